"""Retention of the outbox and the delivery logs (PLAUDIT_WEBHOOK_LOG_RETENTION_DAYS, 7 by
default): what outlives it goes once nothing references it, in short chunks.

The clock only moves forward and is shared by this module: each clock test has a year of
its own.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.sweeps import CHUNK
from plaudit.jobs.tables import sweeps
from plaudit.webhooks import delivery
from plaudit.webhooks.fanout import insert_deliveries
from plaudit.webhooks.outbox import WebhookEvent
from plaudit.webhooks.tables import (
    webhook_deliveries,
    webhook_events,
    webhook_subscriptions,
    webhook_throttles,
)
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.webhooks.conftest import deliveries, subscribe
from tests.webhooks.receiver import receiver
from tests.webhooks.test_clock import at, emit_at

RETENTION = dt.timedelta(days=7)


def started(user: str) -> WebhookEvent:
    return WebhookEvent("streak.started", {"user": {"id": user}, "streak": {"length": 1}})


def lost(user: str) -> WebhookEvent:
    return WebhookEvent("streak.lost", {"user": {"id": user}, "length": 2})


async def outbox(stack: Stack, scope_id: int) -> dict[str, dt.datetime | None]:
    """The scope's outbox rows: the user each is about → when it was dispatched."""
    async with stack.runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.payload, webhook_events.c.dispatched).where(
                webhook_events.c.scope_id == scope_id
            )
        )
        return {row.payload["user"]["id"]: row.dispatched for row in rows}


async def event_id(conn: AsyncConnection, scope_id: int, user: str) -> uuid.UUID:
    rows = await conn.execute(
        select(webhook_events.c.id, webhook_events.c.payload).where(
            webhook_events.c.scope_id == scope_id
        )
    )
    [found] = [row.id for row in rows if row.payload["user"]["id"] == user]
    return found


async def test_outbox_rows_go_after_the_retention_once_nothing_references_them(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env, stack = hook_clock_env, hook_clock_stack
    async with receiver() as hook:
        created = await subscribe(env, hook.url, events=["streak.started"])
        await move_clock(env, "2201-01-01T00:00:00Z")
        # ada's event is sent; nobody listens to streak.lost, so bob's reaches no one.
        await emit_at(stack, env, "2201-01-01T00:00:00Z", started("ada"), lost("bob"))
        await emit_at(stack, env, "2201-01-01T00:00:00Z", lost("cy"), lost("dee"))
        await move_clock(env, "2201-01-01T00:00:00Z")
    assert [r.payload["user"]["id"] for r in hook.received] == ["ada"]
    dispatched = at("2201-01-01T00:00:00Z")
    assert await outbox(stack, env.scope_id) == dict.fromkeys(
        ("ada", "bob", "cy", "dee"), dispatched
    )
    now = at("2201-01-01T00:00:00Z")
    async with stack.runtime.db.transaction() as conn:
        # cy's event still has a delivery to make (one a request sends, never due on its
        # own) and dee's is held by a throttle window that closes long after the retention.
        subscription = uuid.UUID(created["id"])
        cy = await event_id(conn, env.scope_id, "cy")
        await insert_deliveries(
            conn, env.scope_id, cy, "streak.lost", [subscription], now, due=False
        )
        dee = await event_id(conn, env.scope_id, "dee")
        await conn.execute(
            insert(webhook_throttles).values(
                scope_id=env.scope_id,
                key="streak.lost:dee",
                window_end=at("2300-01-01T00:00:00Z"),
                held_event_id=dee,
            )
        )
        # A window that closed without holding anything: nothing to keep it for.
        await conn.execute(
            insert(webhook_throttles).values(
                scope_id=env.scope_id, key="points.changed:idle", window_end=now, held_event_id=None
            )
        )

    # Exactly the retention later (the purge runs at every hour): everything is kept.
    await move_clock(env, "2201-01-08T00:00:00Z")
    assert set(await outbox(stack, env.scope_id)) == {"ada", "bob", "cy", "dee"}
    statuses = sorted(d["status"] for d in await deliveries(env, created["id"]))
    assert statuses == ["pending", "succeeded"]
    await move_clock(env, "2201-01-08T01:00:00Z")
    assert set(await outbox(stack, env.scope_id)) == {"cy", "dee"}
    assert [d["status"] for d in await deliveries(env, created["id"])] == ["pending"]
    async with stack.runtime.db.transaction(write=False) as conn:
        windows = await conn.scalars(
            select(webhook_throttles.c.key).where(webhook_throttles.c.scope_id == env.scope_id)
        )
        assert list(windows) == ["streak.lost:dee"]


async def test_a_large_purge_drains_in_chunks_without_waiting_for_the_next_hour(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env, stack = hook_clock_env, hook_clock_stack
    count = 2 * CHUNK + CHUNK // 2
    await move_clock(env, "2202-01-01T00:00:00Z")
    await emit_at(stack, env, "2202-01-01T00:00:00Z", *(lost(f"u{n}") for n in range(count)))
    await move_clock(env, "2202-01-01T00:00:00Z")
    assert len(await outbox(stack, env.scope_id)) == count

    async def left() -> int:
        async with stack.runtime.db.transaction(write=False) as conn:
            found = await conn.scalar(
                select(func.count())
                .select_from(webhook_events)
                .where(webhook_events.c.scope_id == env.scope_id)
            )
            return int(found or 0)

    # Each run deletes one chunk in a transaction of its own and, the chunk being full, is
    # due again at once: the clock stays put, yet the backlog drains.
    await move_clock(env, "2202-01-09T00:00:00Z")
    for _ in range(10):
        if not await left():
            break
        await move_clock(env, "2202-01-09T00:00:00Z")
    assert await left() == 0
    async with stack.runtime.db.transaction(write=False) as conn:
        next_run = await conn.scalar(
            select(sweeps.c.next_run_at).where(sweeps.c.name == "webhooks.purge")
        )
    assert next_run == at("2202-01-09T01:00:00Z")  # the last run was not full: in an hour


class Rollback(Exception):
    """Ends a test transaction without committing it."""


async def test_purge_chunks_and_keeps_undispatched_rows(env: TestEnvironment, stack: Stack) -> None:
    """On the shared stack, in a transaction rolled back at the end, with rows dated 1990:
    older than anything else in the database, so only they are due for the purge."""
    old = at("1990-01-01T00:00:00Z")
    now = old + RETENTION + dt.timedelta(days=1)
    subscription = uuid.uuid4()

    def row(user: str, dispatched: dt.datetime | None) -> dict[str, object]:
        return {
            "id": uuid.uuid4(),
            "scope_id": env.scope_id,
            "type": "streak.lost",
            "payload": {"type": "streak.lost", "user": {"id": user}, "length": 1},
            "created": old,
            "dispatched": dispatched,
        }

    async def scenario() -> None:
        async with stack.runtime.db.transaction() as conn:
            await conn.execute(
                insert(webhook_subscriptions).values(
                    id=subscription,
                    scope_id=env.scope_id,
                    url="https://example.invalid/hook",
                    events=[],
                    status="archived",
                    secret="whsec_test",
                    created=old,
                    updated=old,
                )
            )
            unheard = [row(f"u{n}", old) for n in range(5)]
            waiting = row("waiting", None)  # not fanned out yet: never purged
            await conn.execute(insert(webhook_events), [*unheard, waiting])
            # A delivery that failed for good: it goes, then its event.
            sent = uuid.uuid4()
            await conn.execute(insert(webhook_events), [{**row("sent", old), "id": sent}])
            [log] = await insert_deliveries(
                conn, env.scope_id, sent, "streak.lost", [subscription], old
            )
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == log)
                .values(status="failed", next_attempt_at=None)
            )

            first = await delivery.purge(conn, now, RETENTION, chunk=2)
            assert (first.deliveries, first.events, first.more) == (1, 2, True)
            second = await delivery.purge(conn, now, RETENTION, chunk=2)
            assert (second.deliveries, second.events, second.more) == (0, 2, True)
            third = await delivery.purge(conn, now, RETENTION, chunk=2)
            assert (third.deliveries, third.events, third.more) == (0, 2, True)
            last = await delivery.purge(conn, now, RETENTION, chunk=2)
            assert (last.total, last.more) == (0, False)
            kept = await conn.scalars(
                select(webhook_events.c.id).where(webhook_events.c.scope_id == env.scope_id)
            )
            assert list(kept) == [waiting["id"]]
            raise Rollback

    with pytest.raises(Rollback):
        await scenario()
