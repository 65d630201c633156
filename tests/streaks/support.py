"""Helpers the streak tests share: settings and events through the contract-checked HTTP
client, and the streak webhooks a scope's outbox holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from plaudit.runtime import Runtime
from plaudit.webhooks.rules import EVENT_TYPES
from plaudit.webhooks.tables import webhook_events
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.support.outbox import listen

STREAK_TYPES = tuple(kind for kind in EVENT_TYPES if kind.startswith("streak."))


async def configure(env: TestEnvironment, **settings: Any) -> None:
    response = await env.admin.patch("/streaks/settings", json=settings)
    assert response.status_code == 200, response.json()


async def listen_to_streaks(stack: Stack, env: TestEnvironment) -> None:
    """Subscribe to every streak.* type: the outbox stores only types a subscription wants."""
    await listen(stack, env, *STREAK_TYPES)


async def streak_webhooks(
    runtime: Runtime, scope_id: int, since: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The scope's streak webhooks in the outbox, oldest first; from `since` on if given.

    The outbox keeps a row only for the log retention (7 days) after it went out: a test
    spanning longer reads what it expects before it ages out, or from `since`. Only what
    happened after `listen_to_streaks` is there.
    """
    query = (
        select(webhook_events.c.type, webhook_events.c.payload)
        .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type.like("streak.%"))
        .order_by(webhook_events.c.created, webhook_events.c.id)
    )
    if since is not None:
        query = query.where(
            webhook_events.c.created >= dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        )
    async with runtime.db.transaction(write=False) as conn:
        return [(row.type, row.payload) for row in await conn.execute(query)]


async def event_streak(
    env: TestEnvironment, metric: str, user: str | dict[str, Any], value: float = 1
) -> dict[str, Any]:
    response = await env.event(metric, user, value)
    assert response.status_code == 201, response.json()
    return response.json()["currentStreak"]  # type: ignore[no-any-return]
