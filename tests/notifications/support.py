"""Helpers of the notification tests: the `emails.*_due` rows of a scope's outbox, each
parsed as SDK 1.27's payload model."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from trophy.core.pydantic_utilities import parse_obj_as
from trophy.types import (
    WebhooksEmailsAchievementDuePayload,
    WebhooksEmailsReactivationDuePayload,
    WebhooksEmailsRecapDuePayload,
    WebhooksEmailsStreakReminderDuePayload,
)

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.api.test_test_clock import move_clock
from tests.support.api import TestEnvironment

_SDK_PAYLOADS: dict[str, Any] = {
    "emails.achievement_due": WebhooksEmailsAchievementDuePayload,
    "emails.recap_due": WebhooksEmailsRecapDuePayload,
    "emails.reactivation_due": WebhooksEmailsReactivationDuePayload,
    "emails.streak_reminder_due": WebhooksEmailsStreakReminderDuePayload,
}
KINDS = tuple(_SDK_PAYLOADS)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def due_webhooks(
    runtime: Runtime, scope_id: int, kind: str | None = None, since: str | None = None
) -> list[dict[str, Any]]:
    """The scope's `emails.*_due` payloads (of `kind` if given, written at or after `since`
    if given), oldest first. The outbox keeps a row only for the log retention (7 days):
    tests spanning longer read from `since`. Only types a subscription wants are stored
    (`listen(stack, env, *KINDS)` first)."""
    query = (
        select(webhook_events.c.payload)
        .where(
            webhook_events.c.scope_id == scope_id,
            webhook_events.c.type.in_([kind] if kind else KINDS),
        )
        .order_by(webhook_events.c.created, webhook_events.c.id)
    )
    if since is not None:
        query = query.where(webhook_events.c.created >= utc(since))
    async with runtime.db.transaction(write=False) as conn:
        payloads = [dict(row.payload) for row in await conn.execute(query)]
    for payload in payloads:
        parse_obj_as(_SDK_PAYLOADS[payload["type"]], payload)
    return payloads


async def event_at(env: TestEnvironment, when: str, user: str | dict[str, Any]) -> None:
    await move_clock(env, when)
    response = await env.event("lessons", user)
    assert response.status_code == 201, response.json()


async def set_preferences(env: TestEnvironment, user: str, **notifications: list[str]) -> None:
    response = await env.app.patch(
        f"/users/{user}/preferences", json={"notifications": notifications}
    )
    assert response.status_code == 200, response.json()
