"""Admin changes to webhooks and the delivery worker lock rows in one order (PostgreSQL).

Deleting a webhook fails its pending deliveries; recording an attempt updates the webhook's
health. Each locks deliveries and the subscription; taken in opposite orders, the database
aborted one of them as a deadlock (a 500 for the Admin caller)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, text

from plaudit.core.clock import utcnow
from plaudit.webhooks import delivery
from plaudit.webhooks.fanout import fan_out
from plaudit.webhooks.tables import webhook_deliveries, webhook_subscriptions
from tests.conftest import Stack
from tests.support.api import make_environment
from tests.webhooks.conftest import subscribe
from tests.webhooks.test_delivery import emit_now, ping

pytestmark = pytest.mark.postgres


async def waiting_on_locks(stack: Stack) -> int:
    async with stack.runtime.db.transaction(write=False) as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(found or 0)


async def until_waiting(stack: Stack, request: asyncio.Task[Any]) -> None:
    """Until the request's transaction waits for a row lock (it must not end first)."""
    for _ in range(200):
        if await waiting_on_locks(stack) or request.done():
            break
        await asyncio.sleep(0.02)
    assert not request.done(), "the request did not wait for the locked row"


async def test_deleting_a_webhook_while_an_attempt_is_recorded_is_no_deadlock(
    postgres_hook_clock_stack: Stack,
) -> None:
    stack = postgres_hook_clock_stack  # test clock: the worker attempts nothing by itself
    env = await make_environment(stack.runtime, stack.http)
    webhook = await subscribe(env, "http://127.0.0.1:9/hook", events=["streak.started"])
    await emit_now(stack, env.scope_id, ping(1), ping(2))
    assert await fan_out(stack.runtime, utcnow()) == 2
    async with stack.runtime.db.transaction(write=False) as conn:
        rows = (
            await conn.execute(
                select(webhook_deliveries).where(
                    webhook_deliveries.c.subscription_id == uuid.UUID(webhook["id"])
                )
            )
        ).all()
    assert len(rows) == 2
    last = max(rows, key=lambda row: row.id)
    attempt = delivery.Finished(
        delivery.Claimed(
            delivery_id=last.id,
            claim_id=uuid.uuid4(),
            scope_id=env.scope_id,
            subscription_id=last.subscription_id,
            event_id=last.event_id,
            attempt=1,
            url=webhook["url"],
            secret="",
            payload=None,
        ),
        delivery.Outcome(status_code=500, error="HTTP 500", duration_ms=3),
        utcnow(),
        utcnow(),
    )
    # The worker's recording transaction, in its two steps: the attempt's delivery, then
    # (once the Admin delete waits on that row) the subscription's health.
    async with stack.runtime.db.transaction() as worker:
        await worker.execute(
            select(webhook_deliveries.c.id)
            .where(webhook_deliveries.c.id == last.id)
            .with_for_update()
        )
        deleting = asyncio.create_task(env.admin.delete("/webhooks", params={"ids": webhook["id"]}))
        await until_waiting(stack, deleting)
        await delivery._track_health(worker, stack.runtime.config, [(attempt, "HTTP 500")])
    response = await deleting
    assert response.status_code == 200, response.text
    assert [d["id"] for d in response.json()["deleted"]] == [webhook["id"]]
    async with stack.runtime.db.transaction(write=False) as conn:
        statuses = Counter(
            await conn.scalars(
                select(webhook_deliveries.c.status).where(
                    webhook_deliveries.c.subscription_id == uuid.UUID(webhook["id"])
                )
            )
        )
    assert statuses == Counter({"failed": 2})


async def test_a_request_the_database_aborts_in_a_deadlock_answers_409_and_writes_nothing(
    postgres_hook_clock_stack: Stack,
) -> None:
    """A transaction that takes the subscription before its delivery (no part of the server
    does) makes a delete wait, then closes the cycle; the delete, waiting longest, is the
    one the database aborts."""
    stack = postgres_hook_clock_stack
    env = await make_environment(stack.runtime, stack.http)
    webhook = await subscribe(env, "http://127.0.0.1:9/hook", events=["streak.started"])
    await emit_now(stack, env.scope_id, ping(1))
    assert await fan_out(stack.runtime, utcnow()) == 1
    webhook_id = uuid.UUID(webhook["id"])
    async with stack.runtime.db.transaction() as other:
        await other.execute(
            select(webhook_subscriptions.c.id)
            .where(webhook_subscriptions.c.id == webhook_id)
            .with_for_update()
        )
        deleting = asyncio.create_task(env.admin.delete("/webhooks", params={"ids": webhook["id"]}))
        await until_waiting(stack, deleting)
        await other.execute(
            select(webhook_deliveries.c.id)
            .where(webhook_deliveries.c.subscription_id == webhook_id)
            .with_for_update()
        )
    response = await deleting
    assert response.status_code == 409, response.text
    assert response.headers["retry-after"] == "1"
    assert "Retry it" in response.json()["error"]
    async with stack.runtime.db.transaction(write=False) as conn:
        status = await conn.scalar(
            select(webhook_subscriptions.c.status).where(webhook_subscriptions.c.id == webhook_id)
        )
        pending = await conn.scalar(
            select(func.count()).where(
                webhook_deliveries.c.subscription_id == webhook_id,
                webhook_deliveries.c.status == "pending",
            )
        )
    assert (status, pending) == ("active", 1)
