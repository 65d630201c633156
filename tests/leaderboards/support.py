"""Helpers of the leaderboard tests: boards through the Admin API, the clock, outbox rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from trophy.core.pydantic_utilities import parse_obj_as
from trophy.types import (
    WebhooksLeaderboardChangedPayload,
    WebhooksLeaderboardFinishedPayload,
    WebhooksLeaderboardRankChangedPayload,
    WebhooksLeaderboardStartedPayload,
)

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.support.api import TestEnvironment


async def move_clock(env: TestEnvironment, when: str) -> None:
    response = await env.admin.put("/test-clock", json={"now": when})
    assert response.status_code == 200, response.json()


async def clock(env: TestEnvironment) -> dt.datetime:
    now = (await env.admin.get("/test-clock")).json()["now"]
    return dt.datetime.fromisoformat(now.replace("Z", "+00:00"))


async def board(env: TestEnvironment, **fields: Any) -> dict[str, Any]:
    body = {"name": "Board", "key": "board", "rankBy": "metric", **fields}
    response = await env.admin.post("/leaderboards", json=[body])
    assert response.status_code == 201, response.json()
    assert response.json()["issues"] == []
    return response.json()["created"][0]  # type: ignore[no-any-return]


async def patch(env: TestEnvironment, **fields: Any) -> dict[str, Any]:
    response = await env.admin.patch("/leaderboards", json=[fields])
    assert response.status_code == 200, response.json()
    return response.json()  # type: ignore[no-any-return]


_SDK_PAYLOADS = {
    "leaderboard.started": WebhooksLeaderboardStartedPayload,
    "leaderboard.finished": WebhooksLeaderboardFinishedPayload,
    "leaderboard.changed": WebhooksLeaderboardChangedPayload,
    "leaderboard.rank_changed": WebhooksLeaderboardRankChangedPayload,
}
LEADERBOARD_TYPES = tuple(_SDK_PAYLOADS)


async def outbox(runtime: Runtime, scope_id: int, kind: str) -> list[dict[str, Any]]:
    """The outbox rows of one type, oldest first; each must parse as SDK 1.27's payload.
    Only types a subscription wants are stored (`listen(stack, env, *LEADERBOARD_TYPES)`
    first)."""
    async with runtime.db.transaction() as conn:
        rows = await conn.execute(
            select(webhook_events.c.payload)
            .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type == kind)
            .order_by(webhook_events.c.created, webhook_events.c.id)
        )
        payloads = [dict(row.payload) for row in rows]
    for payload in payloads:
        parse_obj_as(_SDK_PAYLOADS[kind], payload)
    return payloads
