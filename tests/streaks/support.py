"""Helpers the streak tests share: settings and events through the contract-checked HTTP
client, and the streak webhooks a scope's outbox holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.support.api import TestEnvironment


async def configure(env: TestEnvironment, **settings: Any) -> None:
    response = await env.admin.patch("/streaks/settings", json=settings)
    assert response.status_code == 200, response.json()


async def streak_webhooks(runtime: Runtime, scope_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.type, webhook_events.c.payload)
            .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type.like("streak.%"))
            .order_by(webhook_events.c.created, webhook_events.c.id)
        )
        return [(row.type, row.payload) for row in rows]


async def event_streak(
    env: TestEnvironment, metric: str, user: str | dict[str, Any], value: float = 1
) -> dict[str, Any]:
    response = await env.event(metric, user, value)
    assert response.status_code == 201, response.json()
    return response.json()["currentStreak"]  # type: ignore[no-any-return]
