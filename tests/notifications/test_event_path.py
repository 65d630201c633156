"""What the event path writes for the due webhooks: one schedule row per user and type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from plaudit.core.clock import utcnow
from plaudit.events import pipeline
from plaudit.notifications.tables import notification_schedule
from plaudit.users.schemas import UpsertedUser
from tests.conftest import Stack
from tests.streaks.support import configure
from tests.support.api import TestEnvironment


async def test_a_batch_of_events_writes_one_schedule_row_per_user_and_type(
    env: TestEnvironment, stack: Stack
) -> None:
    await env.metric("lessons")
    await configure(env, metrics=[{"key": "lessons", "threshold": 1}])
    runtime = stack.runtime

    async def batch(*users: str) -> None:
        async with runtime.db.transaction() as conn:
            config = await runtime.config.get(conn, env.scope_id)
            inputs = [
                pipeline.validate(
                    config,
                    metric_key="lessons",
                    user=UpsertedUser(id=user),
                    value=1,
                    attributes=None,
                    idempotency_key=None,
                )
                for user in users
            ]
            await pipeline.process(conn, config, inputs, utcnow())

    async def rows() -> dict[tuple[str, str], tuple[int, Any]]:
        async with runtime.db.transaction(write=False) as conn:
            found = await conn.execute(
                select(notification_schedule).where(
                    notification_schedule.c.scope_id == env.scope_id
                )
            )
            return {(str(r.user_pk), r.kind): (r.sent, r.due) for r in found}

    await batch("ada", "bob", "ada", "cy")
    first = await rows()
    # Three users, one row per type each (recap, reactivation, streak reminder).
    assert sorted({kind for _, kind in first}) == ["reactivation", "recap", "streak_reminder"]
    assert len(first) == 9
    assert all(sent == 0 and due is not None for sent, due in first.values())
