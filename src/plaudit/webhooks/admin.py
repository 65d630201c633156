"""Webhook subscriptions and their delivery logs, as the Admin API reads and writes them.

A subscription's secret leaves the server only in the create and rotate responses.
Deleting archives: the subscription stops receiving, its pending deliveries fail.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.admin_crud import item_uuid, path_uuid
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.webhooks import rules
from plaudit.webhooks.fanout import insert_deliveries
from plaudit.webhooks.schemas import (
    CreateWebhookRequestItem,
    Delivery,
    DeliveryAttempt,
    DeliveryWithAttempts,
    UpdateWebhookRequestItem,
    Webhook,
)
from plaudit.webhooks.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
    webhook_subscriptions,
)

subs = webhook_subscriptions
THING = "Webhook"


def new_secret() -> str:
    return rules.secret_from_bytes(secrets.token_bytes(32))


def to_wire(row: Any, secret: str | None = None) -> Webhook:
    return Webhook(
        id=str(row.id),
        name=row.name,
        url=row.url,
        events=list(row.events or []),
        status=row.status,
        disabled_reason=row.disabled_reason if row.status == "disabled" else None,
        secret=secret,
        created=row.created,
        updated=row.updated,
    )


def destination_problem(url: str, allow_private: bool) -> str | None:
    return rules.host_problem(urlsplit(url).hostname or "", allow_private)


def _live(scope_id: int) -> list[Any]:
    return [subs.c.scope_id == scope_id, subs.c.status != "archived"]


async def list_page(
    conn: AsyncConnection, scope_id: int, *, limit: int, skip: int
) -> list[Webhook]:
    rows = await conn.execute(
        select(subs)
        .where(*_live(scope_id))
        .order_by(subs.c.created, subs.c.id)
        .limit(limit)
        .offset(skip)
    )
    return [to_wire(row) for row in rows]


async def _find(conn: AsyncConnection, scope_id: int, item_id: uuid.UUID) -> Row[Any] | None:
    return (await conn.execute(select(subs).where(subs.c.id == item_id, *_live(scope_id)))).first()


def _parsed(raw_ids: Iterable[str]) -> list[uuid.UUID]:
    """The ids that parse (the others are reported as each item is handled)."""
    return [parsed for raw in raw_ids if (parsed := parse_uuid(raw)) is not None]


async def _lock(
    conn: AsyncConnection, item_ids: Sequence[uuid.UUID], *, pending_deliveries: bool
) -> None:
    """Locks (PostgreSQL) what a change will write, before writing anything, in the order the
    delivery worker locks when it records attempts: deliveries by id, then subscriptions by
    id. Locking as the writes came, an Admin change and a worker each held a row the other
    waited for, and the database aborted one of them as a deadlock."""
    if conn.dialect.name != "postgresql" or not item_ids:
        return
    if pending_deliveries:
        await conn.execute(
            select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.subscription_id.in_(item_ids),
                webhook_deliveries.c.status == "pending",
            )
            .order_by(webhook_deliveries.c.id)
            .with_for_update()
        )
    # NO KEY UPDATE, as the updates themselves take: events may go on adding deliveries.
    await conn.execute(
        select(subs.c.id)
        .where(subs.c.id.in_(item_ids))
        .order_by(subs.c.id)
        .with_for_update(key_share=True)
    )


async def get(conn: AsyncConnection, scope_id: int, raw_id: str) -> Row[Any]:
    row = await _find(conn, scope_id, path_uuid(raw_id, THING))
    if row is None:
        raise NotFound(f"{THING} '{raw_id}' not found")
    return row


async def create(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, CreateWebhookRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
    *,
    allow_private: bool,
) -> list[Webhook]:
    created = []
    for index, item in items:
        problem = destination_problem(item.url, allow_private)
        if problem is not None:
            issues.append(AdminIssue(index=index, severity="error", message=f"url: {problem}"))
            continue
        secret = new_secret()
        row_id = new_id()
        await conn.execute(
            insert(subs).values(
                id=row_id,
                scope_id=scope_id,
                name=item.name,
                url=item.url,
                events=item.events,
                status=item.status,
                secret=secret,
                created=now,
                updated=now,
            )
        )
        row = (await conn.execute(select(subs).where(subs.c.id == row_id))).one()
        created.append(to_wire(row, secret))
    return created


async def update_many(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, UpdateWebhookRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
    *,
    allow_private: bool,
) -> list[Webhook]:
    updated = []
    await _lock(conn, _parsed(item.id for _index, item in items), pending_deliveries=False)
    for _index, item in items:
        item_id = item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = await _find(conn, scope_id, item_id)
        if row is None:
            issues.append(AdminIssue(id=item.id, severity="error", message="Webhook not found"))
            continue
        values: dict[str, Any] = {"updated": now}
        if item.url is not None:
            problem = destination_problem(item.url, allow_private)
            if problem is not None:
                issues.append(AdminIssue(id=item.id, severity="error", message=f"url: {problem}"))
                continue
            values["url"] = item.url
        if "name" in item.model_fields_set:
            values["name"] = item.name
        if item.events is not None:
            values["events"] = item.events
        if item.status is not None:
            values["status"] = item.status
            if item.status == "active":
                values.update(disabled_reason=None, failing_since=None)
        await conn.execute(update(subs).where(subs.c.id == item_id).values(**values))
        fresh = (await conn.execute(select(subs).where(subs.c.id == item_id))).one()
        updated.append(to_wire(fresh))
    return updated


async def archive(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    await _lock(conn, _parsed(raw_ids), pending_deliveries=True)
    for raw in raw_ids:
        item_id = item_uuid(raw, issues)
        if item_id is None:
            continue
        if await _find(conn, scope_id, item_id) is None:
            issues.append(AdminIssue(id=raw, severity="error", message="Webhook not found by ID"))
            continue
        await conn.execute(
            update(subs).where(subs.c.id == item_id).values(status="archived", updated=now)
        )
        await conn.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.subscription_id == item_id,
                webhook_deliveries.c.status == "pending",
            )
            .values(
                status="failed", next_attempt_at=None, last_error="webhook deleted", updated=now
            )
        )
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues


async def rotate_secret(
    conn: AsyncConnection, scope_id: int, raw_id: str, now: dt.datetime
) -> tuple[uuid.UUID, str]:
    row = await get(conn, scope_id, raw_id)
    secret = new_secret()
    await conn.execute(update(subs).where(subs.c.id == row.id).values(secret=secret, updated=now))
    return row.id, secret


async def queue_test(
    conn: AsyncConnection, scope_id: int, raw_id: str, now: dt.datetime
) -> uuid.UUID:
    """A `test` event for this webhook alone; returns its delivery's id."""
    row = await get(conn, scope_id, raw_id)
    event_id = new_id()
    payload = {
        "type": rules.TEST_EVENT,
        "webhook": {"id": str(row.id), "name": row.name, "url": row.url},
        "timestamp": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    await conn.execute(
        insert(webhook_events).values(
            id=event_id,
            scope_id=scope_id,
            type=rules.TEST_EVENT,
            payload=payload,
            created=now,
            dispatched=now,
        )
    )
    [delivery_id] = await insert_deliveries(
        conn, scope_id, event_id, rules.TEST_EVENT, [row.id], now, due=False
    )
    return delivery_id


# --- delivery logs ---------------------------------------------------------------------


def _delivery_query() -> Any:
    d = webhook_deliveries
    return select(d, webhook_events.c.payload).join(
        webhook_events, webhook_events.c.id == d.c.event_id
    )


def delivery_to_wire(row: Any) -> Delivery:
    return Delivery(
        id=str(row.id),
        event_id=str(row.event_id),
        webhook_id=str(row.subscription_id),
        type=row.type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        duration_ms=row.duration_ms,
        created=row.created,
        payload=row.payload,
    )


async def list_deliveries(
    conn: AsyncConnection,
    scope_id: int,
    raw_id: str,
    *,
    status: str | None,
    limit: int,
    skip: int,
) -> list[Delivery]:
    row = await get(conn, scope_id, raw_id)
    d = webhook_deliveries
    query = _delivery_query().where(d.c.subscription_id == row.id)
    if status is not None:
        query = query.where(d.c.status == status)
    query = query.order_by(d.c.created.desc(), d.c.id.desc()).limit(limit).offset(skip)
    return [delivery_to_wire(found) for found in await conn.execute(query)]


async def find_delivery(conn: AsyncConnection, scope_id: int, raw_id: str) -> Row[Any]:
    delivery_id = path_uuid(raw_id, "Delivery")
    d = webhook_deliveries
    row = (
        await conn.execute(
            _delivery_query()
            .join(subs, subs.c.id == d.c.subscription_id)
            .where(d.c.id == delivery_id, d.c.scope_id == scope_id, subs.c.status != "archived")
        )
    ).first()
    if row is None:
        raise NotFound(f"Delivery '{raw_id}' not found")
    return row


async def delivery_with_attempts(
    conn: AsyncConnection, scope_id: int, raw_id: str
) -> DeliveryWithAttempts:
    row = await find_delivery(conn, scope_id, raw_id)
    attempts = await conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id == row.id)
        .order_by(webhook_attempts.c.id)
    )
    return DeliveryWithAttempts(
        **delivery_to_wire(row).model_dump(),
        attempt_log=[
            DeliveryAttempt(
                attempt=a.attempt,
                started=a.started,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )
