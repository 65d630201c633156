"""What the event path adds for the due webhooks: one statement per batch of events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from plaudit.core.clock import utcnow
from plaudit.events import pipeline
from plaudit.notifications.tables import notification_schedule
from plaudit.users.schemas import UpsertedUser
from tests.conftest import Stack
from tests.streaks.support import configure
from tests.support.api import TestEnvironment


async def test_a_batch_of_events_costs_one_statement_on_the_schedule(
    env: TestEnvironment, stack: Stack
) -> None:
    await env.metric("lessons")
    await configure(env, metrics=[{"key": "lessons", "threshold": 1}])
    runtime = stack.runtime
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "notification_schedule" in sql:
            statements.append(sql)

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
            # Only this connection: the background worker's sweeps use others.
            assert conn.sync_connection is not None
            event.listen(conn.sync_connection, "before_cursor_execute", count)
            try:
                await pipeline.process(conn, config, inputs, utcnow())
            finally:
                event.remove(conn.sync_connection, "before_cursor_execute", count)

    async def rows() -> dict[tuple[str, str], tuple[int, Any]]:
        async with runtime.db.transaction(write=False) as conn:
            found = await conn.execute(
                select(notification_schedule).where(
                    notification_schedule.c.scope_id == env.scope_id
                )
            )
            return {(str(r.user_pk), r.kind): (r.sent, r.due) for r in found}

    await batch("ada", "bob", "ada", "cy")
    assert len(statements) == 1
    first = await rows()
    # Three users, one row per type each (recap, reactivation, streak reminder).
    assert sorted({kind for _, kind in first}) == ["reactivation", "recap", "streak_reminder"]
    assert len(first) == 9
    assert all(sent == 0 and due is not None for sent, due in first.values())
