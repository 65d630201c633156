"""Points over time through the HTTP API and the test clock: boost announcements at the
times the webhooks page gives, time triggers by the hour from their activation, and the
outbox rows of balance and level changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from trophy.core.pydantic_utilities import parse_obj_as

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.points.test_api import make_system
from tests.support.api import TestEnvironment
from tests.support.contract import sdk_model
from tests.support.outbox import listen

SDK_PAYLOADS = {
    "points.changed": "WebhooksPointsChangedPayload",
    "points.level_changed": "WebhooksPointsLevelChangedPayload",
    "points.boost_started": "WebhooksPointsBoostStartedPayload",
    "points.boost_finished": "WebhooksPointsBoostFinishedPayload",
}


async def points_webhooks(runtime: Runtime, scope_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, created, payload) of the scope's points.* outbox rows, oldest first; every
    payload parses as the SDK 1.27.0 webhook model of its type. Only types a subscription
    wants are stored (`listen(stack, env, *SDK_PAYLOADS)` first)."""
    async with runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.type, webhook_events.c.created, webhook_events.c.payload)
            .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type.like("points.%"))
            .order_by(webhook_events.c.created, webhook_events.c.id)
        )
        found = [(r.type, r.created.strftime("%Y-%m-%dT%H:%M"), r.payload) for r in rows]
    for kind, _when, payload in found:
        parse_obj_as(sdk_model(SDK_PAYLOADS[kind]), payload)
    return found


async def test_boost_announcements_global_and_for_one_user(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen(clock_stack, env, *SDK_PAYLOADS)
    await move_clock(env, "2150-05-01T12:00:00Z")
    await env.app.post("/users", json={"id": "tokyo", "tz": "Asia/Tokyo"})
    system = await make_system(env)
    created = await env.admin.post(
        f"/points/{system['id']}/boosts",
        json=[
            {"name": "Global", "start": "2150-05-10", "end": "2150-05-11", "multiplier": 2},
            {
                "name": "Mine",
                "userId": "tokyo",
                "start": "2150-05-20",
                "end": "2150-05-20",
                "multiplier": 3,
                "rounding": "up",
            },
            {
                "name": "Both",
                "userId": "tokyo",
                "userAttributes": [],
                "start": "2150-05-20",
                "multiplier": 3,
            },
            {"name": "Nobody", "userId": "ghost", "start": "2150-05-20", "multiplier": 3},
        ],
    )
    body = created.json()
    assert [b["name"] for b in body["created"]] == ["Global", "Mine"]
    assert [(i["index"], i["message"]) for i in body["issues"]] == [
        (2, "userAttributes cannot be set on a boost for one user (userId)"),
        (3, "User does not exist"),
    ]
    mine = body["created"][1]
    assert (mine["userId"], "userAttributes" in mine) == ("tokyo", False)
    assert body["created"][0]["userAttributes"] == []

    async def sent() -> list[tuple[str, str, str, str]]:
        return [
            (kind, when, payload["boost"]["name"], payload["boost"]["status"])
            for kind, when, payload in await points_webhooks(clock_stack.runtime, env.scope_id)
        ]

    # Read in two steps: outbox rows age out after the 7-day retention.
    await move_clock(env, "2150-05-13T00:00:00Z")
    assert await sent() == [
        ("points.boost_started", "2150-05-09T10:00", "Global", "active"),
        ("points.boost_finished", "2150-05-12T13:00", "Global", "finished"),
    ]
    await move_clock(env, "2150-05-21T00:00:00Z")
    assert [row for row in await sent() if row[1] >= "2150-05-13"] == [
        # Tokyo is UTC+9: its 20 May begins at 15:00 UTC on the 19th.
        ("points.boost_started", "2150-05-19T15:00", "Mine", "active"),
        ("points.boost_finished", "2150-05-20T15:00", "Mine", "finished"),
    ]
    payload = (await points_webhooks(clock_stack.runtime, env.scope_id))[-2][2]
    assert payload["boost"]["userId"] == "tokyo"
    assert payload["boost"]["pointsSystemKey"] == "xp"


async def test_time_trigger_by_the_hour_from_activation(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen(clock_stack, env, *SDK_PAYLOADS)
    await move_clock(env, "2151-01-01T09:00:00Z")
    await env.app.post("/users", json={"id": "early"})
    system = await make_system(
        env,
        levels=[{"name": "One", "key": "one", "points": 10}],
        triggers=[{"type": "time", "points": 5, "timeUnit": "hours", "timeInterval": 2}],
    )
    [trigger] = system["triggers"]
    assert trigger["status"] == "inactive"
    await move_clock(env, "2151-01-01T10:30:00Z")
    activated = await env.admin.patch(
        f"/points/{system['id']}/triggers", json=[{"id": trigger["id"], "status": "active"}]
    )
    assert activated.json()["updated"][0]["status"] == "active"
    await move_clock(env, "2151-01-01T11:00:00Z")
    await env.app.post("/users", json={"id": "late"})
    await move_clock(env, "2151-01-01T12:29:00Z")
    assert (await env.app.get("/users/early/points/xp")).json()["total"] == 0
    await move_clock(env, "2151-01-01T13:00:00Z")
    early = (await env.app.get("/users/early/points/xp")).json()
    late = (await env.app.get("/users/late/points/xp")).json()
    assert (early["total"], late["total"]) == (5, 5)
    assert [a["date"] for a in early["awards"]] == ["2151-01-01T12:30:00Z"]
    assert early["awards"][0]["trigger"]["timeUnit"] == "hour"
    await move_clock(env, "2151-01-01T14:40:00Z")
    early = (await env.app.get("/users/early/points/xp")).json()
    assert (early["total"], early["level"]["key"]) == (10, "one")
    kinds = [(k, w) for k, w, _ in await points_webhooks(clock_stack.runtime, env.scope_id)]
    assert ("points.level_changed", "2151-01-01T14:30") in kinds
    assert kinds.count(("points.changed", "2151-01-01T14:30")) == 1  # early only: late is at 13:00
    # Deactivated, it stops.
    await env.admin.patch(
        f"/points/{system['id']}/triggers", json=[{"id": trigger["id"], "status": "inactive"}]
    )
    await move_clock(env, "2151-01-02T00:00:00Z")
    assert (await env.app.get("/users/early/points/xp")).json()["total"] == 10
