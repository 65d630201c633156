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
from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.settings import Settings
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
    """Claim up to `limit` due deliveries, at most `room(destination)` per destination."""
    async with runtime.db.transaction() as conn:
        query = (
            _claim_query()
            .where(due_condition(now), webhook_subscriptions.c.status == "active")
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit * CLAIM_SCAN)
        )
        if skip_subscriptions:
            query = query.where(webhook_deliveries.c.subscription_id.not_in(skip_subscriptions))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=webhook_deliveries)
        chosen: list[Any] = []
        taken: dict[str, int] = {}
        for row in await conn.execute(query):
            destination = rules.destination_key(row.url)
            if taken.get(destination, 0) >= room(destination):
                continue
            taken[destination] = taken.get(destination, 0) + 1
            chosen.append(row)
            if len(chosen) >= limit:
                break
        return await _take(conn, chosen, now, runtime.settings)


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
    """POST the payload once, signed both ways; the response body is never read."""
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
            max_keepalive_connections=min(settings.webhook_max_in_flight, 32),
        ),
    )


# --- recording -------------------------------------------------------------------------


async def record(
    runtime: Runtime,
    claimed: Claimed,
    outcome: Outcome,
    started: dt.datetime,
    now: dt.datetime,
    rand: float | None = None,
) -> str:
    """Store the attempt and decide what follows; returns the delivery's new status."""
    settings = runtime.settings
    error = None if outcome.ok else rules.attempt_error(outcome.status_code, outcome.error)
    if outcome.ok:
        status, next_at = "succeeded", None
    else:
        wait = rules.parse_retry_after(outcome.retry_after, now)
        delay = rules.retry_delay(
            claimed.attempt,
            settings.webhook_retry_schedule,
            random.random() if rand is None else rand,
            wait,
        )
        status, next_at = ("failed", None) if delay is None else ("pending", now + delay)
    async with runtime.db.transaction() as conn:
        await conn.execute(
            insert(webhook_attempts).values(
                scope_id=claimed.scope_id,
                delivery_id=claimed.delivery_id,
                attempt=claimed.attempt,
                started=started,
                status_code=outcome.status_code,
                error=error,
                duration_ms=outcome.duration_ms,
            )
        )
        updated = await conn.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == claimed.delivery_id,
                webhook_deliveries.c.claim_id == claimed.claim_id,
            )
            .values(
                status=status,
                attempts=claimed.attempt,
                next_attempt_at=next_at,
                locked_until=None,
                claim_id=None,
                last_status_code=outcome.status_code,
                last_error=error,
                duration_ms=outcome.duration_ms,
                updated=now,
            )
        )
        if updated.rowcount != 1:
            return "superseded"  # another worker's claim took over after the lease ran out
        await _track_health(conn, claimed.subscription_id, error, started, now)
    return status


async def _track_health(
    conn: AsyncConnection,
    subscription_id: uuid.UUID,
    error: str | None,
    started: dt.datetime,
    now: dt.datetime,
) -> None:
    subs = webhook_subscriptions
    if error is None:
        await conn.execute(
            update(subs)
            .where(subs.c.id == subscription_id, subs.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return
    row = (
        await conn.execute(
            select(subs.c.status, subs.c.failing_since, subs.c.url).where(
                subs.c.id == subscription_id
            )
        )
    ).one()
    failing_since = row.failing_since or started
    values: dict[str, Any] = {"failing_since": failing_since}
    if row.status == "active" and rules.should_disable(failing_since, now):
        reason = rules.disabled_reason(now, error)
        values.update(status="disabled", disabled_reason=reason, updated=now)
        log.warning(
            "webhook_disabled", subscription_id=str(subscription_id), url=row.url, reason=reason
        )
    await conn.execute(update(subs).where(subs.c.id == subscription_id).values(**values))


# --- what is due, and housekeeping ---------------------------------------------------------


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


async def purge(conn: AsyncConnection, now: dt.datetime, retention: dt.timedelta) -> int:
    """Delivery logs older than the retention, with the outbox rows they sent, go."""
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
    fresh = (
        select(d.c.id).where(d.c.event_id == webhook_events.c.id, ~stale).exists()
    )  # a delivery of the event that stays
    sent = select(d.c.id).where(d.c.event_id == webhook_events.c.id).exists()
    events = await conn.execute(
        delete(webhook_events).where(webhook_events.c.dispatched < cutoff, sent, ~fresh)
    )
    stale_ids = select(d.c.id).where(stale).scalar_subquery()
    await conn.execute(
        delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(stale_ids))
    )
    deliveries = await conn.execute(delete(d).where(stale))
    await conn.execute(
        delete(webhook_throttles).where(
            webhook_throttles.c.window_end < cutoff, webhook_throttles.c.held_event_id.is_(None)
        )
    )
    return int(events.rowcount or 0) + int(deliveries.rowcount or 0)
