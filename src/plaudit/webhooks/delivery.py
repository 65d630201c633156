"""Delivering webhooks: claiming, one HTTP attempt, recording it, housekeeping.

Each step is a short transaction of its own; no transaction is open while a receiver is
called. A delivery is claimed with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any
number of workers share the work; SQLite has one writer). A worker that dies mid-attempt
leaves the lease to expire, and the delivery is sent again with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import random
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.settings import Settings
from plaudit.jobs.sweeps import CHUNK, Progress, in_chunk
from plaudit.platform.config import ConfigCache, bump_config_version
from plaudit.webhooks import rules
from plaudit.webhooks.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
    webhook_subscriptions,
    webhook_throttles,
)

if TYPE_CHECKING:
    from plaudit.runtime import Runtime

log = structlog.get_logger("plaudit.webhooks")

CLAIM_SCAN = 4  # candidates read per free slot, so full destinations can be passed over
KEEP_ALIVE_BODY = 64 * 1024  # response bodies up to this size are read to keep the connection


def lease(settings: Settings) -> dt.timedelta:
    """How long a claim lasts: an attempt is cut at the timeout, recording takes a moment."""
    return dt.timedelta(seconds=2 * settings.webhook_timeout_seconds + 2)


# --- claiming --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: uuid.UUID
    claim_id: uuid.UUID
    scope_id: int
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    payload: Any

    @property
    def destination(self) -> str:
        return rules.destination_key(self.url)


def _claim_query() -> Any:
    return (
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.scope_id,
            webhook_deliveries.c.subscription_id,
            webhook_deliveries.c.event_id,
            webhook_deliveries.c.attempts,
            webhook_subscriptions.c.url,
            webhook_subscriptions.c.secret,
            webhook_events.c.payload,
        )
        .join(
            webhook_subscriptions,
            webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
        )
        .join(webhook_events, webhook_events.c.id == webhook_deliveries.c.event_id)
    )


async def _take(
    conn: AsyncConnection, rows: Sequence[Any], now: dt.datetime, settings: Settings
) -> list[Claimed]:
    if not rows:
        return []
    claim_id = uuid.uuid4()
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_([row.id for row in rows]))
        .values(locked_until=now + lease(settings), claim_id=claim_id)
    )
    return [
        Claimed(
            delivery_id=row.id,
            claim_id=claim_id,
            scope_id=row.scope_id,
            subscription_id=row.subscription_id,
            event_id=row.event_id,
            attempt=row.attempts + 1,
            url=row.url,
            secret=row.secret,
            payload=row.payload,
        )
        for row in rows
    ]


def due_condition(now: dt.datetime) -> Any:
    return and_(
        webhook_deliveries.c.status == "pending",
        webhook_deliveries.c.next_attempt_at <= now,
        or_(webhook_deliveries.c.locked_until.is_(None), webhook_deliveries.c.locked_until < now),
    )


async def claim(
    runtime: Runtime,
    now: dt.datetime,
    room: Callable[[str], int],
    limit: int,
    skip_subscriptions: Collection[uuid.UUID] = (),
) -> list[Claimed]:
    """Claim up to `limit` due deliveries, at most `room(destination)` per destination.

    The candidates are read (and on PostgreSQL locked) without their payloads; only the
    chosen ones' payloads are read."""
    async with runtime.db.transaction() as conn:
        query = (
            select(webhook_deliveries.c.id, webhook_subscriptions.c.url)
            .join(
                webhook_subscriptions,
                webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
            )
            .where(due_condition(now), webhook_subscriptions.c.status == "active")
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit * CLAIM_SCAN)
        )
        if skip_subscriptions:
            query = query.where(webhook_deliveries.c.subscription_id.not_in(skip_subscriptions))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=webhook_deliveries)
        chosen: list[uuid.UUID] = []
        taken: dict[str, int] = {}
        for row in await conn.execute(query):
            destination = rules.destination_key(row.url)
            if taken.get(destination, 0) >= room(destination):
                continue
            taken[destination] = taken.get(destination, 0) + 1
            chosen.append(row.id)
            if len(chosen) >= limit:
                break
        if not chosen:
            return []
        order = {delivery_id: n for n, delivery_id in enumerate(chosen)}
        rows = sorted(
            await conn.execute(_claim_query().where(webhook_deliveries.c.id.in_(chosen))),
            key=lambda row: order[row.id],
        )
        return await _take(conn, rows, now, runtime.settings)


async def claim_one(runtime: Runtime, delivery_id: uuid.UUID, now: dt.datetime) -> Claimed:
    """Claim one delivery to send it now (test and manual redelivery), whatever its state."""
    async with runtime.db.transaction() as conn:
        row = (
            await conn.execute(_claim_query().where(webhook_deliveries.c.id == delivery_id))
        ).one()
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status="pending", next_attempt_at=now, updated=now)
        )
        [claimed] = await _take(conn, [row], now, runtime.settings)
        return claimed


# --- one attempt -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and rules.succeeded(self.status_code)


async def _refused_address(url: str, allow_private: bool) -> str | None:
    """Check every address the destination resolves to (link-local is never called)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    problem = rules.host_problem(host, allow_private)
    if problem is not None:
        return problem
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None  # a literal address, already judged
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        return f"cannot resolve {host}: {exc.strerror or exc}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        problem = rules.address_problem(address, allow_private)
        if problem is not None:
            return f"{host} resolves to {problem}"
    return None


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no response within {timeout:g} s"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:1000]


async def send(
    client: httpx.AsyncClient, claimed: Claimed, settings: Settings, now: dt.datetime
) -> Outcome:
    """POST the payload once, signed both ways; the response body is not kept."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    body = orjson.dumps(claimed.payload)
    headers = rules.signed_headers(claimed.secret, str(claimed.event_id), now, body)
    headers["X-Trophy-Event-Id"] = str(claimed.event_id)
    headers["X-Trophy-Delivery-Attempt"] = str(claimed.attempt)
    timeout = settings.webhook_timeout_seconds
    try:
        async with asyncio.timeout(timeout):  # name resolution included
            refused = await _refused_address(claimed.url, settings.webhook_allow_private)
            if refused is not None:
                return Outcome(None, f"destination refused: {refused}", elapsed())
            request = client.build_request("POST", claimed.url, content=body, headers=headers)
            response = await client.send(request, stream=True)
            try:
                # Read (and drop) a short body to its end, so that the connection stays
                # open for the next attempt; a long one is cut, closing the connection.
                kept = 0
                async for chunk in response.aiter_raw():
                    kept += len(chunk)
                    if kept > KEEP_ALIVE_BODY:
                        break
            finally:
                await response.aclose()
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return Outcome(None, _describe(exc, timeout), elapsed())
    return Outcome(response.status_code, None, elapsed(), response.headers.get("retry-after"))


def new_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=settings.webhook_max_in_flight,
            max_keepalive_connections=settings.webhook_max_in_flight,
        ),
    )


# --- recording -------------------------------------------------------------------------

RECORD_BATCH = 500  # finished attempts recorded in one transaction, at most


@dataclass(frozen=True, slots=True)
class Finished:
    """One attempt that has been made and is to be recorded."""

    claimed: Claimed
    outcome: Outcome
    started: dt.datetime
    ended: dt.datetime


def _next_step(
    settings: Settings, done: Finished, rand: float | None
) -> tuple[str, dt.datetime | None, str | None]:
    """(status, next attempt, error) after `done`."""
    outcome = done.outcome
    if outcome.ok:
        return "succeeded", None, None
    error = rules.attempt_error(outcome.status_code, outcome.error)
    wait = rules.parse_retry_after(outcome.retry_after, done.ended)
    delay = rules.retry_delay(
        done.claimed.attempt,
        settings.webhook_retry_schedule,
        random.random() if rand is None else rand,
        wait,
    )
    if delay is None:
        return "failed", None, error
    return "pending", done.ended + delay, error


_record_update = (
    update(webhook_deliveries)
    .where(
        webhook_deliveries.c.id == bindparam("b_id"),
        webhook_deliveries.c.claim_id == bindparam("b_claim"),
    )
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        locked_until=None,
        claim_id=None,
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        duration_ms=bindparam("b_duration"),
        updated=bindparam("b_updated"),
    )
)


async def record(
    runtime: Runtime,
    claimed: Claimed,
    outcome: Outcome,
    started: dt.datetime,
    now: dt.datetime,
    rand: float | None = None,
) -> str:
    """Store one attempt and decide what follows; returns the delivery's new status."""
    [status] = await record_many(runtime, [Finished(claimed, outcome, started, now)], rand)
    return status


async def record_many(
    runtime: Runtime, finished: Sequence[Finished], rand: float | None = None
) -> list[str]:
    """Store finished attempts, all in one short transaction, and decide what follows for
    each delivery; returns their new statuses in order ("superseded" when another claim
    took the delivery over after this one's lease ran out: the attempt stays in the log,
    the delivery is left to that claim)."""
    if not finished:
        return []
    settings = runtime.settings
    steps = [_next_step(settings, done, rand) for done in finished]
    ids = [done.claimed.delivery_id for done in finished]
    async with runtime.db.transaction() as conn:
        current = select(webhook_deliveries.c.id, webhook_deliveries.c.claim_id).where(
            webhook_deliveries.c.id.in_(ids)
        )
        if conn.dialect.name == "postgresql":
            # Lock order, shared with the Admin API's webhook changes: deliveries by id, then
            # subscriptions by id (in _track_health), so neither waits on the other in a cycle.
            current = current.order_by(webhook_deliveries.c.id).with_for_update(
                of=webhook_deliveries
            )
        holder = {row.id: row.claim_id for row in await conn.execute(current)}
        await conn.execute(
            insert(webhook_attempts),
            [
                {
                    "scope_id": done.claimed.scope_id,
                    "delivery_id": done.claimed.delivery_id,
                    "attempt": done.claimed.attempt,
                    "started": done.started,
                    "status_code": done.outcome.status_code,
                    "error": error,
                    "duration_ms": done.outcome.duration_ms,
                }
                for done, (_status, _next, error) in zip(finished, steps, strict=True)
            ],
        )
        mine = [holder.get(done.claimed.delivery_id) == done.claimed.claim_id for done in finished]
        rows = [
            {
                "b_id": done.claimed.delivery_id,
                "b_claim": done.claimed.claim_id,
                "b_status": status,
                "b_attempts": done.claimed.attempt,
                "b_next": next_at,
                "b_code": done.outcome.status_code,
                "b_error": error,
                "b_duration": done.outcome.duration_ms,
                "b_updated": done.ended,
            }
            for done, (status, next_at, error), ours in zip(finished, steps, mine, strict=True)
            if ours
        ]
        if rows:
            await conn.execute(_record_update, rows)
        await _track_health(
            conn,
            runtime.config,
            [
                (done, step[2])
                for done, step, ours in zip(finished, steps, mine, strict=True)
                if ours
            ],
        )
    return [step[0] if ours else "superseded" for step, ours in zip(steps, mine, strict=True)]


async def release(runtime: Runtime, claims: Sequence[Claimed]) -> None:
    """Give back claims that were never attempted (they waited too long for a connection),
    so that they are due again at once rather than when their lease runs out."""
    if not claims:
        return
    async with runtime.db.transaction() as conn:
        for claim_id in {c.claim_id for c in claims}:
            await conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id.in_(
                        [c.delivery_id for c in claims if c.claim_id == claim_id]
                    ),
                    webhook_deliveries.c.claim_id == claim_id,
                )
                .values(locked_until=None, claim_id=None)
            )


async def _track_health(
    conn: AsyncConnection, cache: ConfigCache, results: Sequence[tuple[Finished, str | None]]
) -> None:
    """Per subscription, in the order the attempts ended: a success clears
    `failing_since`, a failure sets it if unset; a webhook failing for 24 h is disabled.

    Disabling bumps the scope's config version, so that the outbox stops storing events
    only that subscription wanted (an optimisation: such rows would be harmless)."""
    subs = webhook_subscriptions
    outcomes: dict[uuid.UUID, list[tuple[Finished, str | None]]] = {}
    for done, error in results:
        outcomes.setdefault(done.claimed.subscription_id, []).append((done, error))
    # Every subscription concerned is locked (PostgreSQL), in id order: see record_many.
    query = (
        select(subs.c.id, subs.c.scope_id, subs.c.status, subs.c.failing_since, subs.c.url)
        .where(subs.c.id.in_(outcomes))
        .order_by(subs.c.id)
    )
    if conn.dialect.name == "postgresql":
        # NO KEY UPDATE: events inserting deliveries (a key share on the row) are not held up.
        query = query.with_for_update(key_share=True)
    rows = await conn.execute(query)
    disabled: set[int] = set()
    for row in rows.all():
        failing_since = row.failing_since
        for done, error in outcomes[row.id]:
            failing_since = None if error is None else (failing_since or done.started)
        last, error = outcomes[row.id][-1]
        now = last.ended
        values: dict[str, Any] = {"failing_since": failing_since}
        if (
            row.status == "active"
            and failing_since is not None
            and rules.should_disable(failing_since, now)
        ):
            reason = rules.disabled_reason(now, error or "")
            values.update(status="disabled", disabled_reason=reason, updated=now)
            log.warning("webhook_disabled", subscription_id=str(row.id), url=row.url, reason=reason)
            disabled.add(row.scope_id)
        if values["failing_since"] != row.failing_since or "status" in values:
            await conn.execute(update(subs).where(subs.c.id == row.id).values(**values))
    for scope_id in sorted(disabled):
        await bump_config_version(conn, scope_id, cache)


# --- what is due, and housekeeping ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    outbox: bool  # outbox rows to fan out
    windows: bool  # throttle windows closed on a held event
    deliveries: bool  # deliveries due and not claimed by anyone


async def due_now(runtime: Runtime, now: dt.datetime) -> Due:
    """Which kinds of work are there at `now`: a cheap read, so that a worker writes (and,
    on SQLite, takes the write lock) only for work it has."""
    async with runtime.db.transaction(write=False) as conn:
        outbox = await conn.scalar(
            select(webhook_events.c.id).where(webhook_events.c.dispatched.is_(None)).limit(1)
        )
        windows = await conn.scalar(
            select(webhook_throttles.c.key)
            .where(
                webhook_throttles.c.held_event_id.is_not(None),
                webhook_throttles.c.window_end <= now,
            )
            .limit(1)
        )
        deliveries = await conn.scalar(
            select(webhook_deliveries.c.id)
            .join(
                webhook_subscriptions,
                webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
            )
            .where(due_condition(now), webhook_subscriptions.c.status == "active")
            .limit(1)
        )
    return Due(outbox is not None, windows is not None, deliveries is not None)


async def next_due(runtime: Runtime, now: dt.datetime) -> dt.datetime | None:
    async with runtime.db.transaction(write=False) as conn:
        pending_outbox = await conn.scalar(
            select(func.min(webhook_events.c.created)).where(webhook_events.c.dispatched.is_(None))
        )
        retry = await conn.scalar(
            select(func.min(webhook_deliveries.c.next_attempt_at))
            .join(
                webhook_subscriptions,
                webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
            )
            .where(
                webhook_deliveries.c.status == "pending",
                webhook_subscriptions.c.status == "active",
            )
        )
        window = await conn.scalar(
            select(func.min(webhook_throttles.c.window_end)).where(
                webhook_throttles.c.held_event_id.is_not(None)
            )
        )
    found = [when for when in (pending_outbox, retry, window) if when is not None]
    return min(found) if found else None


@dataclass(frozen=True, slots=True)
class Purged:
    """One purge run: the rows it deleted of each kind."""

    deliveries: int
    events: int
    throttles: int
    progress: Progress

    @property
    def total(self) -> int:
        return self.progress.done

    @property
    def more(self) -> bool:
        return self.progress.more


async def purge(
    conn: AsyncConnection, now: dt.datetime, retention: dt.timedelta, chunk: int = CHUNK
) -> Purged:
    """One chunk of each kind of what is older than the retention: finished delivery logs
    with their attempts, then outbox rows that nothing references any more (their
    deliveries are gone, or no subscriber ever matched them), then idle throttle windows."""
    cutoff = now - retention
    d = webhook_deliveries
    stale = and_(
        d.c.updated < cutoff,
        or_(
            d.c.status != "pending",
            ~exists().where(
                webhook_subscriptions.c.id == d.c.subscription_id,
                webhook_subscriptions.c.status == "active",
            ),
        ),
    )
    # Picked once for two deletes: the attempts reference their delivery.
    stale_ids = list((await conn.scalars(select(d.c.id).where(stale).limit(chunk))).all())
    if stale_ids:
        await conn.execute(
            delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(stale_ids))
        )
        await conn.execute(delete(d).where(d.c.id.in_(stale_ids)))
    # Dispatched, so fan-out is done with it; no delivery left, so no log shows it and no
    # retry sends it; not held by a throttle window, which would send it when it closes.
    # An undispatched row is kept however old: it has not been sent yet.
    e = webhook_events
    unreferenced = and_(
        e.c.dispatched < cutoff,
        ~select(d.c.id).where(d.c.event_id == e.c.id).exists(),
        e.c.id.not_in(
            select(webhook_throttles.c.held_event_id).where(
                webhook_throttles.c.held_event_id.is_not(None)
            )
        ),
    )
    events = await in_chunk(conn, delete(e), unreferenced, e.c.id, chunk=chunk)
    t = webhook_throttles
    idle = and_(t.c.window_end < cutoff, t.c.held_event_id.is_(None))
    throttles = await in_chunk(conn, delete(t), idle, t.c.scope_id, t.c.key, chunk=chunk)
    counts = (len(stale_ids), events, throttles)
    return Purged(*counts, progress=Progress.of(chunk, *counts))
