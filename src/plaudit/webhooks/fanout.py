"""Fan-out: each outbox row becomes one delivery per matching subscription, in one short
transaction; throttled types (points.changed, leaderboard.changed, ...) are held per type
and subject and coalesced into one delivery when their window closes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import dialect_insert
from plaudit.core.ids import new_id
from plaudit.webhooks import rules
from plaudit.webhooks.tables import (
    webhook_deliveries,
    webhook_events,
    webhook_subscriptions,
    webhook_throttles,
)

if TYPE_CHECKING:
    from plaudit.runtime import Runtime

FAN_OUT_BATCH = 500


async def _subscribers(
    conn: AsyncConnection, scope_ids: Collection[int]
) -> dict[int, list[tuple[uuid.UUID, list[str]]]]:
    rows = await conn.execute(
        select(
            webhook_subscriptions.c.scope_id,
            webhook_subscriptions.c.id,
            webhook_subscriptions.c.events,
        ).where(
            webhook_subscriptions.c.scope_id.in_(list(scope_ids)),
            webhook_subscriptions.c.status == "active",
        )
    )
    found: dict[int, list[tuple[uuid.UUID, list[str]]]] = {}
    for row in rows:
        found.setdefault(row.scope_id, []).append((row.id, list(row.events or [])))
    return found


async def insert_deliveries(
    conn: AsyncConnection,
    scope_id: int,
    event_id: uuid.UUID,
    event_type: str,
    subscription_ids: Sequence[uuid.UUID],
    now: dt.datetime,
    *,
    due: bool = True,
) -> list[uuid.UUID]:
    """Pending deliveries; `due=False` ones wait for `claim_one` (sent by a request)."""
    ids = [new_id() for _ in subscription_ids]
    if ids:
        await conn.execute(
            insert(webhook_deliveries),
            [
                {
                    "id": delivery_id,
                    "scope_id": scope_id,
                    "subscription_id": subscription_id,
                    "event_id": event_id,
                    "type": event_type,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now if due else None,
                    "created": now,
                    "updated": now,
                }
                for delivery_id, subscription_id in zip(ids, subscription_ids, strict=True)
            ],
        )
    return ids


async def _hold(
    conn: AsyncConnection, scope_id: int, key: str, event: Any, window_end: dt.datetime
) -> None:
    """Keep `event` back until its window closes, merged with the one already held."""
    held_id = await conn.scalar(
        select(webhook_throttles.c.held_event_id).where(
            webhook_throttles.c.scope_id == scope_id, webhook_throttles.c.key == key
        )
    )
    held_payload = None
    if held_id is not None:
        held_payload = await conn.scalar(
            select(webhook_events.c.payload).where(webhook_events.c.id == held_id)
        )
    merged = rules.coalesce(event.type, held_payload, event.payload)
    if merged is not event.payload:
        await conn.execute(
            update(webhook_events).where(webhook_events.c.id == event.id).values(payload=merged)
        )
    await conn.execute(
        update(webhook_throttles)
        .where(webhook_throttles.c.scope_id == scope_id, webhook_throttles.c.key == key)
        .values(held_event_id=event.id, window_end=window_end)
    )


async def _open_window(
    conn: AsyncConnection, scope_id: int, key: str, window_end: dt.datetime
) -> None:
    stmt = dialect_insert(conn, webhook_throttles).values(
        scope_id=scope_id, key=key, window_end=window_end, held_event_id=None
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["scope_id", "key"],
            set_={"window_end": window_end, "held_event_id": None},
        )
    )


async def fan_out(runtime: Runtime, now: dt.datetime, limit: int = FAN_OUT_BATCH) -> int:
    """Turn outbox rows into one delivery per matching subscription; returns rows handled."""
    async with runtime.db.transaction() as conn:
        pending = (
            select(webhook_events)
            .where(webhook_events.c.dispatched.is_(None))
            .order_by(webhook_events.c.created)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            pending = pending.with_for_update(skip_locked=True)
        events = (await conn.execute(pending)).all()
        if not events:
            return 0
        subscribers = await _subscribers(conn, {e.scope_id for e in events})
        for event in events:
            targets = [
                sub_id
                for sub_id, types in subscribers.get(event.scope_id, [])
                if rules.matches(types, event.type)
            ]
            if not targets:
                continue  # nobody listens: never sent, kept for the retention like the logs
            key = rules.throttle_key(event.type, event.payload)
            if key is not None:
                window_end = await conn.scalar(
                    select(webhook_throttles.c.window_end).where(
                        webhook_throttles.c.scope_id == event.scope_id,
                        webhook_throttles.c.key == key,
                    )
                )
                decision = rules.throttle(window_end, now)
                if not decision.send_now:
                    await _hold(conn, event.scope_id, key, event, decision.window_end)
                    continue
                await _open_window(conn, event.scope_id, key, decision.window_end)
            await insert_deliveries(conn, event.scope_id, event.id, event.type, targets, now)
        await conn.execute(
            update(webhook_events)
            .where(webhook_events.c.id.in_([e.id for e in events]))
            .values(dispatched=now)
        )
        return len(events)


async def flush_throttles(runtime: Runtime, now: dt.datetime) -> int:
    """Send the held event of every window that has closed, and open a new window."""
    async with runtime.db.transaction() as conn:
        due = (
            await conn.execute(
                select(
                    webhook_throttles.c.scope_id,
                    webhook_throttles.c.key,
                    webhook_events.c.id,
                    webhook_events.c.type,
                )
                .join(webhook_events, webhook_events.c.id == webhook_throttles.c.held_event_id)
                .where(webhook_throttles.c.window_end <= now)
                .limit(FAN_OUT_BATCH)
            )
        ).all()
        if not due:
            return 0
        subscribers = await _subscribers(conn, {row.scope_id for row in due})
        for row in due:
            targets = [
                sub_id
                for sub_id, types in subscribers.get(row.scope_id, [])
                if rules.matches(types, row.type)
            ]
            await insert_deliveries(conn, row.scope_id, row.id, row.type, targets, now)
            await _open_window(conn, row.scope_id, row.key, now + rules.THROTTLE_WINDOW)
        return len(due)
