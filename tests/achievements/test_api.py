"""Achievements through the APIs: definitions, triggers, statuses, backdating, reads."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.support.outbox import listen


async def define(env: TestEnvironment, **item: Any) -> dict[str, Any]:
    response = await env.admin.post("/achievements", json=[{"name": item.pop("name", "A"), **item}])
    assert response.status_code == 201, response.json()
    created: dict[str, Any] = response.json()["created"][0]
    return created


async def webhooks(
    runtime: Runtime, scope_id: int, kind: str = "achievement.completed"
) -> list[dict[str, Any]]:
    async with runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.payload)
            .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type == kind)
            .order_by(webhook_events.c.created)
        )
        return [row.payload for row in rows]


async def wait_for(check: Any) -> None:
    """Poll `check` for up to 15 s (background jobs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not await check():
        if loop.time() > deadline:
            pytest.fail("the background job did not finish in time")
        await asyncio.sleep(0.05)


async def completions(env: TestEnvironment, achievement_id: str) -> int:
    listed = (await env.app.get("/achievements")).json()
    return next((a["completions"] for a in listed if a["id"] == achievement_id), -1)


# --- definitions ----------------------------------------------------------------------


async def test_definitions_have_the_sdk_shape(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    plan = await env.attribute("plan")
    source = await env.attribute("source", "event")
    created = await define(
        env,
        name="Bookworm",
        trigger="metric",
        metricId=metric["id"],
        metricValue=10.5,
        description="Read a lot",
        badge={"url": "https://cdn.example.com/b.png"},
        userAttributes=[{"attributeId": plan["id"], "attributeValue": "pro"}],
        eventAttributes=[{"attributeId": source["id"], "attributeValue": "ios"}],
    )
    assert created["status"] == "inactive"
    assert created["metricValue"] == 10.5
    assert created["badge"] == {"url": "https://cdn.example.com/b.png"}
    assert "key" not in created
    assert "streakLength" not in created
    assert (await env.admin.get(f"/achievements/{created['id']}")).json() == created
    api = await define(env, name="Linked", trigger="api", key="linked", status="active")
    assert api["key"] == "linked"
    assert "metricId" not in api
    assert api["userAttributes"] == []
    assert api["description"] is None
    assert api["badge"] is None


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"trigger": "metric"}, "metricId is required"),
        (
            {"trigger": "metric", "metricId": str(uuid.uuid4()), "metricValue": 5},
            "not an active metric",
        ),
        ({"trigger": "api"}, "key is required"),
        ({"trigger": "api", "key": "k", "streakLength": 3}, "only allowed for streak"),
        ({"trigger": "streak", "streakLength": 0}, "at least 1"),
        ({"trigger": "anniversary"}, "anniversaryYears is required"),
        (
            {"trigger": "achievement", "achievementIds": [str(uuid.uuid4())]},
            "not another achievement",
        ),
        ({"trigger": "api", "key": "has space"}, "key"),
        (
            {
                "trigger": "api",
                "key": "k",
                "userAttributes": [{"attributeId": "x", "attributeValue": "y"}],
            },
            "not an active user attribute",
        ),
    ],
)
async def test_bad_definitions_are_issues(
    env: TestEnvironment, item: dict[str, Any], fragment: str
) -> None:
    response = await env.admin.post("/achievements", json=[{"name": "X", **item}])
    assert response.status_code == 200
    assert response.json()["created"] == []
    assert fragment in response.json()["issues"][0]["message"]
    assert response.json()["issues"][0]["index"] == 0


async def test_api_keys_are_unique_and_composites_cannot_loop(env: TestEnvironment) -> None:
    a = await define(env, trigger="api", key="a")
    duplicate = await env.admin.post(
        "/achievements", json=[{"name": "B", "trigger": "api", "key": "a"}]
    )
    assert duplicate.json()["issues"][0]["message"] == "Key already in use by another achievement"
    ab = await define(env, trigger="achievement", achievementIds=[a["id"]])
    top = await define(env, trigger="achievement", achievementIds=[ab["id"]])
    loop = await env.admin.patch(
        "/achievements", json=[{"id": ab["id"], "achievementIds": [top["id"]]}]
    )
    assert "cycle" in loop.json()["issues"][0]["message"]


async def test_statuses_move_inactive_active_locked_but_never_back(env: TestEnvironment) -> None:
    a = await define(env, trigger="api", key="a")
    assert (await env.app.get("/achievements")).json() == []
    activated = await env.admin.patch("/achievements", json=[{"id": a["id"], "status": "active"}])
    assert activated.json()["updated"][0]["status"] == "active"
    assert [x["id"] for x in (await env.app.get("/achievements")).json()] == [a["id"]]
    back = await env.admin.patch("/achievements", json=[{"id": a["id"], "status": "inactive"}])
    assert back.json()["issues"][0]["message"] == "status cannot change from active to inactive"
    locked = await env.admin.patch("/achievements", json=[{"id": a["id"], "status": "locked"}])
    assert locked.json()["updated"][0]["status"] == "locked"
    assert (await env.app.get("/achievements")).json() == []


async def test_updates_keep_omitted_fields_and_null_clears(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    a = await define(env, trigger="metric", metricId=metric["id"], metricValue=5, description="d")
    renamed = (await env.admin.patch("/achievements", json=[{"id": a["id"], "name": "New"}])).json()
    assert renamed["updated"][0] == {**a, "name": "New"}
    cleared = (
        await env.admin.patch("/achievements", json=[{"id": a["id"], "description": None}])
    ).json()
    assert cleared["updated"][0]["description"] is None
    switched = await env.admin.patch(
        "/achievements", json=[{"id": a["id"], "trigger": "streak", "streakLength": 7}]
    )
    body = switched.json()["updated"][0]
    assert body["trigger"] == "streak"
    assert body["streakLength"] == 7
    assert "metricId" not in body


async def test_deleting_archives_and_references_are_protected(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    a = await define(env, trigger="metric", metricId=metric["id"], metricValue=5)
    combo = await define(env, trigger="achievement", achievementIds=[a["id"]])
    refused = await env.admin.delete("/achievements", params={"ids": a["id"]})
    assert "prerequisite" in refused.json()["issues"][0]["message"]
    metric_refused = await env.admin.delete("/metrics", params={"ids": metric["id"]})
    assert "in use by achievement" in metric_refused.json()["issues"][0]["message"]
    await env.admin.delete("/achievements", params={"ids": combo["id"]})
    assert (await env.admin.delete("/achievements", params={"ids": a["id"]})).json()["deleted"] == [
        {"id": a["id"]}
    ]
    assert (await env.admin.get(f"/achievements/{a['id']}")).status_code == 404
    assert (await env.admin.get("/achievements")).json() == []


# --- triggers ---------------------------------------------------------------------------


async def test_metric_achievements_complete_when_the_total_reaches_them(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    metric = await env.metric("lessons")
    tiers = [
        await define(
            env,
            name=f"T{v}",
            trigger="metric",
            metricId=metric["id"],
            metricValue=v,
            status="active",
        )
        for v in (5, 10, 20)
    ]
    first = (await env.event("lessons", "ada", 4)).json()
    assert first["achievements"] == []
    second = (await env.event("lessons", "ada", 7)).json()  # 11: crosses 5 and 10 at once
    assert [a["id"] for a in second["achievements"]] == [tiers[0]["id"], tiers[1]["id"]]
    assert second["achievements"][0]["metricName"] == "Lessons"
    assert second["achievements"][0]["achievedAt"] is not None
    down_and_up = [(await env.event("lessons", "ada", v)).json()["achievements"] for v in (-8, 8)]
    assert down_and_up == [[], []]  # reaching 10 again completes nothing twice
    payloads = await webhooks(runtime, env.scope_id)
    assert [p["achievement"]["name"] for p in payloads] == ["T5", "T10"]
    assert payloads[0]["type"] == "achievement.completed"
    assert payloads[0]["user"]["id"] == "ada"
    progress = (await env.app.get("/users/ada/metrics/lessons")).json()["achievements"]
    assert [(a["name"], a["achievedAt"] is not None) for a in progress] == [
        ("T5", True),
        ("T10", True),
        ("T20", False),
    ]


async def test_event_filters_count_only_matching_events(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    source = await env.attribute("source", "event")
    a = await define(
        env,
        trigger="metric",
        metricId=metric["id"],
        metricValue=3,
        status="active",
        eventAttributes=[{"attributeId": source["id"], "attributeValue": "ios"}],
    )
    ios = {"attributes": {"source": "ios"}}
    web = {"attributes": {"source": "web"}}
    assert (await env.event("lessons", "ada", 2, body=ios)).json()["achievements"] == []
    assert (await env.event("lessons", "ada", 5, body=web)).json()["achievements"] == []
    done = (await env.event("lessons", "ada", 1, body=ios)).json()
    assert [x["id"] for x in done["achievements"]] == [a["id"]]
    assert done["achievements"][0]["eventAttributes"] == [{"key": "source", "value": "ios"}]
    assert done["achievements"][0]["eventAttribute"] == {"key": "source", "value": "ios"}


async def test_user_filters_gate_completion_and_a_later_match_backdates(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    metric = await env.metric("lessons")
    plan = await env.attribute("plan")
    a = await define(
        env,
        trigger="metric",
        metricId=metric["id"],
        metricValue=5,
        status="active",
        userAttributes=[{"attributeId": plan["id"], "attributeValue": "pro"}],
    )
    assert (await env.event("lessons", {"id": "ada", "attributes": {"plan": "free"}}, 6)).json()[
        "achievements"
    ] == []
    await env.app.patch("/users/ada", json={"attributes": {"plan": "pro"}})
    mine = (await env.app.get("/users/ada/achievements")).json()
    assert [x["id"] for x in mine] == [a["id"]]
    assert await webhooks(runtime, env.scope_id) == []  # reached earlier: completed silently


async def test_composites_complete_in_the_same_request(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    a = await define(
        env, name="A", trigger="metric", metricId=metric["id"], metricValue=1, status="active"
    )
    b = await define(env, name="B", trigger="api", key="b", status="active")
    ab = await define(
        env, name="AB", trigger="achievement", achievementIds=[a["id"], b["id"]], status="active"
    )
    top = await define(
        env, name="Top", trigger="achievement", achievementIds=[ab["id"]], status="active"
    )
    await env.app.post("/achievements/b/complete", json={"user": {"id": "ada"}})
    response = (await env.event("lessons", "ada", 1)).json()
    assert [x["id"] for x in response["achievements"]] == [a["id"], ab["id"], top["id"]]


async def test_api_achievements_complete_once(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    a = await define(env, trigger="api", key="linked", status="active")
    first = await env.app.post(
        "/achievements/linked/complete", json={"user": {"id": "ada", "name": "Ada"}}
    )
    assert first.status_code == 201
    body = first.json()
    assert body["achievement"]["id"] == a["id"]
    assert body["points"] == {}
    again = await env.app.post("/achievements/linked/complete", json={"user": {"id": "ada"}})
    assert again.json()["completionId"] == body["completionId"]
    assert again.json()["achievement"]["achievedAt"] == body["achievement"]["achievedAt"]
    assert len(await webhooks(runtime, env.scope_id)) == 1
    assert (await env.app.get("/users/ada")).json()["name"] == "Ada"


async def test_api_completion_errors(env: TestEnvironment) -> None:
    plan = await env.attribute("plan")
    await define(env, trigger="api", key="inactive")
    locked = await define(env, trigger="api", key="locked", status="active")
    await env.admin.patch("/achievements", json=[{"id": locked["id"], "status": "locked"}])
    await define(
        env,
        trigger="api",
        key="pro-only",
        status="active",
        userAttributes=[{"attributeId": plan["id"], "attributeValue": "pro"}],
    )
    user = {"user": {"id": "ada"}}
    assert (await env.app.post("/achievements/missing/complete", json=user)).status_code == 404
    assert (await env.app.post("/achievements/inactive/complete", json=user)).status_code == 404
    assert (await env.app.post("/achievements/locked/complete", json=user)).status_code == 422
    assert (await env.app.post("/achievements/pro-only/complete", json=user)).status_code == 422


async def test_32_parallel_events_crossing_one_threshold_complete_it_once(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    metric = await env.metric("lessons")
    a = await define(env, trigger="metric", metricId=metric["id"], metricValue=10, status="active")
    responses = await asyncio.gather(*(env.event("lessons", "ada", 1) for _ in range(32)))
    reported = [r.json()["achievements"] for r in responses if r.json()["achievements"]]
    assert len(reported) == 1
    assert reported[0][0]["id"] == a["id"]
    assert len(await webhooks(runtime, env.scope_id)) == 1
    assert await completions(env, a["id"]) == 1


# --- backdating and reads ------------------------------------------------------------------


async def test_activating_backdates_silently(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    metric = await env.metric("lessons")
    for user, value in (("a", 1), ("b", 5), ("c", 9)):
        await env.event("lessons", user, value)
    tier = await define(env, trigger="metric", metricId=metric["id"], metricValue=5)
    combo = await define(env, trigger="achievement", achievementIds=[tier["id"]], status="active")
    await env.admin.patch("/achievements", json=[{"id": tier["id"], "status": "active"}])

    async def done() -> bool:
        return await completions(env, tier["id"]) == 2 and await completions(env, combo["id"]) == 2

    await wait_for(done)
    assert await webhooks(runtime, env.scope_id) == []
    listed = {a["id"]: a for a in (await env.app.get("/achievements")).json()}
    assert listed[tier["id"]]["rarity"] == 66.67
    assert (await env.event("lessons", "a", 10)).json()["achievements"][0]["id"] == tier["id"]


async def test_editing_a_live_threshold_backdates_the_new_qualifiers(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    tier = await define(
        env, trigger="metric", metricId=metric["id"], metricValue=100, status="active"
    )
    await env.event("lessons", "ada", 50)
    await env.admin.patch("/achievements", json=[{"id": tier["id"], "metricValue": 40}])

    async def done() -> bool:
        return await completions(env, tier["id"]) == 1

    await wait_for(done)


async def test_reading_achievements_with_stats(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    plan = await env.attribute("plan")
    low = await define(
        env, name="Low", trigger="metric", metricId=metric["id"], metricValue=1, status="active"
    )
    pro = await define(
        env,
        name="Pro",
        trigger="api",
        key="pro",
        status="active",
        userAttributes=[{"attributeId": plan["id"], "attributeValue": "pro"}],
    )
    await env.event("lessons", {"id": "ada", "attributes": {"plan": "free"}}, 1)
    await env.app.put("/users/bob", json={})
    everything = (await env.app.get("/achievements")).json()
    assert [(a["name"], a["completions"], a["rarity"]) for a in everything] == [
        ("Low", 1, 50.0),
        ("Pro", 0, 0.0),
    ]
    assert "achievedAt" not in everything[0]
    free = (await env.app.get("/achievements", params={"userAttributes": "plan:free"})).json()
    assert [a["name"] for a in free] == ["Low"]
    assert (await env.app.get("/achievements", params={"userAttributes": "bad"})).status_code == 422
    assert (
        await env.app.get("/achievements", params={"userAttributes": "nope:x"})
    ).status_code == 422
    mine = (await env.app.get("/users/ada/achievements")).json()
    assert [(a["id"], a["completions"]) for a in mine] == [(low["id"], 1)]
    incomplete = (
        await env.app.get("/users/ada/achievements", params={"includeIncomplete": "true"})
    ).json()
    assert [a["id"] for a in incomplete] == [low["id"]]  # Pro needs plan=pro
    await env.app.patch("/users/ada", json={"attributes": {"plan": "pro"}})
    incomplete = (
        await env.app.get("/users/ada/achievements", params={"includeIncomplete": "true"})
    ).json()
    assert [(a["id"], a["achievedAt"]) for a in incomplete][1] == (pro["id"], None)
    assert (await env.app.get("/users/nobody/achievements")).status_code == 404


async def test_locked_achievements_stay_visible_to_those_who_have_them(
    env: TestEnvironment,
) -> None:
    a = await define(env, trigger="api", key="a", status="active")
    await env.app.post("/achievements/a/complete", json={"user": {"id": "ada"}})
    await env.admin.patch("/achievements", json=[{"id": a["id"], "status": "locked"}])
    assert [x["id"] for x in (await env.app.get("/users/ada/achievements")).json()] == [a["id"]]
    await env.app.put("/users/bob", json={})
    bob = (
        await env.app.get("/users/bob/achievements", params={"includeIncomplete": "true"})
    ).json()
    assert bob == []


async def test_outbox_rows_are_written_only_with_the_change(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env)  # every type
    metric = await env.metric("lessons")
    await define(env, trigger="metric", metricId=metric["id"], metricValue=1, status="active")
    refused = await env.event("lessons", {"id": "ada", "tz": "Nowhere/City"}, 5)
    assert refused.status_code == 422
    async with runtime.db.transaction(write=False) as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(webhook_events)
            .where(webhook_events.c.scope_id == env.scope_id)
        )
    assert count == 0


async def test_an_attribute_change_backdates_event_filtered_achievements(
    env: TestEnvironment,
) -> None:
    metric = await env.metric("lessons")
    plan = await env.attribute("plan")
    source = await env.attribute("source", "event")
    a = await define(
        env,
        trigger="metric",
        metricId=metric["id"],
        metricValue=3,
        status="active",
        userAttributes=[{"attributeId": plan["id"], "attributeValue": "pro"}],
        eventAttributes=[{"attributeId": source["id"], "attributeValue": "ios"}],
    )
    await env.event("lessons", "ada", 2, body={"attributes": {"source": "ios"}})
    await env.event("lessons", "ada", 5, body={"attributes": {"source": "web"}})
    await env.app.patch("/users/ada", json={"attributes": {"plan": "pro"}})
    assert (await env.app.get("/users/ada/achievements")).json() == []  # only 2 matching
    await env.event("lessons", "ada", 1, body={"attributes": {"source": "ios"}})
    assert [x["id"] for x in (await env.app.get("/users/ada/achievements")).json()] == [a["id"]]
