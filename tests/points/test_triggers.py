"""Every trigger type through the API: achievements (by event and by API call), streaks
(every multiple), user creation (inline and identified, handed to the award hooks), event
and user attribute filters, cohort boosts, archived triggers, and a blocked event in a
batch."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.platform.config import ScopeConfig
from plaudit.points import hooks
from plaudit.runtime import Runtime
from tests.api.test_test_clock import move_clock
from tests.points.test_api import ledger_sums, make_system, metric_trigger
from tests.support.api import TestEnvironment


@pytest.fixture
def hooked() -> Iterator[list[hooks.Award]]:
    """Awards handed to `hooks.AWARD_HOOKS` while the test runs."""
    seen: list[hooks.Award] = []

    async def record(
        _conn: AsyncConnection,
        _config: ScopeConfig,
        awards: Sequence[hooks.Award],
        _now: dt.datetime,
    ) -> None:
        seen.extend(awards)

    hooks.AWARD_HOOKS.append(record)
    try:
        yield seen
    finally:
        hooks.AWARD_HOOKS.remove(record)


async def test_achievement_triggers_by_event_and_by_api(
    env: TestEnvironment, hooked: list[hooks.Award]
) -> None:
    metric = await env.metric()
    made = await env.admin.post(
        "/achievements",
        json=[
            {
                "name": "Three",
                "trigger": "metric",
                "metricId": metric["id"],
                "metricValue": 3,
                "status": "active",
            },
            {"name": "Bonus", "trigger": "api", "key": "bonus", "status": "active"},
        ],
    )
    three, bonus = made.json()["created"]
    await make_system(
        env,
        triggers=[
            {"type": "achievement", "points": 7, "achievementId": three["id"], "status": "active"},
            {"type": "achievement", "points": 4, "achievementId": bonus["id"], "status": "active"},
        ],
    )
    assert (await env.event("lessons", "al", 2)).json()["points"] == {}
    event = (await env.event("lessons", "al", 1)).json()
    assert [a["name"] for a in event["achievements"]] == ["Three"]
    entry = event["points"]["xp"]
    assert (entry["total"], entry["added"]) == (7, 7)
    assert entry["awards"][0]["trigger"]["achievementName"] == "Three"
    assert hooked == []  # the pipeline hands its own awards to the leaderboards
    completed = await env.app.post("/achievements/bonus/complete", json={"user": {"id": "al"}})
    assert completed.status_code == 201
    assert completed.json()["points"]["xp"]["added"] == 4
    assert [(a.user.id, a.awarded) for a in hooked] == [("al", 4)]
    again = await env.app.post("/achievements/bonus/complete", json={"user": {"id": "al"}})
    assert again.json()["points"] == {}
    assert (await env.app.get("/users/al/points/xp")).json()["total"] == 11


async def test_user_creation_and_filters(env: TestEnvironment, hooked: list[hooks.Award]) -> None:
    metric = await env.metric()
    plan = await env.attribute("plan")
    source = await env.attribute("source", "event")
    await make_system(
        env,
        triggers=[
            {"type": "user_creation", "points": 3, "status": "active"},
            {
                "type": "metric",
                "points": 10,
                "metricId": metric["id"],
                "metricThreshold": 2,
                "status": "active",
                "eventAttributes": [{"attributeId": source["id"], "attributeValue": "app"}],
            },
            {
                "type": "metric",
                "points": 1,
                "metricId": metric["id"],
                "metricThreshold": 1,
                "status": "active",
                "userAttributes": [{"attributeId": plan["id"], "attributeValue": "pro"}],
            },
        ],
        boosts=[
            {
                "name": "Pros",
                "start": "2000-01-01",
                "multiplier": 2,
                "userAttributes": [{"attributeId": plan["id"], "attributeValue": "pro"}],
            }
        ],
    )
    shown = (await env.app.get("/points/xp")).json()
    assert "key" not in shown
    assert [t["type"] for t in shown["triggers"]] == ["user_creation", "metric", "metric"]
    assert shown["triggers"][1]["eventAttributes"] == [{"key": "source", "value": "app"}]
    assert shown["triggers"][1]["eventAttribute"] == {"key": "source", "value": "app"}
    assert shown["triggers"][2]["userAttributes"] == [{"key": "plan", "value": "pro"}]

    free = await env.event("lessons", {"id": "free"}, 2, body={"attributes": {"source": "web"}})
    assert free.json()["points"] == {}  # web events do not count; not a pro
    assert [(a.user.id, a.awarded) for a in hooked] == [("free", 3)]  # created inline
    app = await env.event("lessons", "free", 2, body={"attributes": {"source": "app"}})
    assert app.json()["points"]["xp"]["added"] == 10
    pro = {"id": "pro", "attributes": {"plan": "pro"}}
    both = (await env.event("lessons", pro, 2, body={"attributes": {"source": "app"}})).json()
    # Creation 3 x2, then 10 x2 (threshold 2) and 2 x 1 x2 (threshold 1), all boosted.
    assert [a["awarded"] for a in both["points"]["xp"]["awards"]] == [20, 4]
    assert (await env.app.get("/users/pro/points/xp")).json()["total"] == 30
    assert [b["name"] for b in (await env.app.get("/users/pro/points/xp/boosts")).json()] == [
        "Pros"
    ]
    assert (await env.app.get("/users/free/points/xp/boosts")).json() == []
    assert [b["name"] for b in (await env.app.get("/points/xp/boosts")).json()] == ["Pros"]
    summary = (
        await env.app.get("/points/xp/summary", params={"userAttributes": "plan:pro"})
    ).json()
    assert [r["users"] for r in summary] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert summary[3] == {"from": 21, "to": 30, "users": 1}
    bad = await env.app.get("/points/xp/summary", params={"userAttributes": "colour:red"})
    assert bad.status_code == 422


async def test_archived_triggers_stop_and_stay_in_history(env: TestEnvironment) -> None:
    metric = await env.metric()
    system = await make_system(
        env,
        triggers=[metric_trigger(metric["id"], 2, 1)],
    )
    [trigger] = system["triggers"]
    await env.event("lessons", "ty", 1)
    changed = await env.admin.patch(
        f"/points/{system['id']}/triggers", json=[{"id": trigger["id"], "type": "streak"}]
    )
    assert changed.json()["issues"][0]["message"] == (
        "type can only be changed while the trigger is inactive"
    )
    patched = await env.admin.patch(
        f"/points/{system['id']}/triggers", json=[{"id": trigger["id"], "points": 5}]
    )
    assert patched.json()["updated"][0]["points"] == 5
    assert patched.json()["updated"][0]["metricThreshold"] == 1  # kept
    in_use = await env.admin.delete("/metrics", params={"ids": metric["id"]})
    assert in_use.json()["issues"][0]["message"].endswith("a trigger of points system 'xp'")
    deleted = await env.admin.delete(
        f"/points/{system['id']}/triggers", params={"ids": trigger["id"]}
    )
    assert deleted.json()["deleted"] == [{"id": trigger["id"]}]
    assert (await env.event("lessons", "ty", 1)).json()["points"] == {}
    user = (await env.app.get("/users/ty/points/xp")).json()
    assert user["total"] == 2
    assert user["awards"][0]["trigger"]["status"] == "archived"
    assert (await env.app.get("/points/xp")).json()["triggers"] == []
    listed = (await env.admin.get(f"/points/{system['id']}/triggers")).json()
    assert listed == []
    freed = await env.admin.delete("/metrics", params={"ids": metric["id"]})
    assert freed.json()["deleted"] == [{"id": metric["id"]}]


async def test_a_blocked_event_in_a_batch_is_skipped_alone(env: TestEnvironment) -> None:
    metric = await env.metric()
    await make_system(
        env,
        key="energy",
        triggers=[
            {"type": "user_creation", "points": 1, "status": "active"},
            {
                "type": "metric",
                "points": -1,
                "metricId": metric["id"],
                "metricThreshold": 1,
                "blockIfOutOfPoints": True,
                "status": "active",
            },
        ],
    )
    batch = [{"key": "lessons", "user": {"id": "ba"}, "value": 1} for _ in range(3)]
    assert (await env.admin.post("/metrics/events", json=batch)).status_code == 202
    for _ in range(100):
        metrics = await env.app.get("/users/ba/metrics/lessons")
        if metrics.status_code == 200:
            break
        await asyncio.sleep(0.05)  # the batch is processed by the worker
    assert metrics.json()["current"] == 1
    assert (await env.app.get("/users/ba/points/energy")).json()["total"] == 0


async def test_a_batch_of_several_users_steps_each_users_marks_and_balance(
    env: TestEnvironment, runtime: Runtime
) -> None:
    """One request, several users (some with earlier progress, one new): each user's marks
    and balance are read and written with the others' in the same statements."""
    metric = await env.metric()
    system = await make_system(
        env,
        triggers=[metric_trigger(metric["id"], 5, 2)],
    )
    for user in ("b1", "b2", "b3"):
        assert (await env.event("lessons", user, 1)).json()["points"] == {}
    order = ["b2", "b1", "b4", "b2", "b3", "b2", "b4"]
    batch = [{"key": "lessons", "user": {"id": user}, "value": 1} for user in order]
    assert (await env.admin.post("/metrics/events", json=batch)).status_code == 202
    for _ in range(100):
        last = await env.app.get("/users/b4/metrics/lessons")
        if last.status_code == 200 and last.json()["current"] == 2:
            break
        await asyncio.sleep(0.05)  # the batch is processed by the worker
    # totals 2, 4, 3 and 2: one threshold crossed, two, one, one
    expected = {"b1": (5, 1), "b2": (10, 2), "b3": (5, 1), "b4": (5, 1)}
    for user, (total, awards) in expected.items():
        found = (await env.app.get(f"/users/{user}/points/xp", params={"awards": 10})).json()
        assert (found["total"], len(found["awards"])) == (total, awards), user
    assert sorted(await ledger_sums(runtime, system["id"])) == [(5, 5)] * 3 + [(10, 10)]


async def test_streak_triggers_fire_at_every_multiple(clock_env: TestEnvironment) -> None:
    env = clock_env
    await move_clock(env, "2152-02-01T12:00:00Z")
    await env.metric("words", "Words")
    settings = await env.admin.patch(
        "/streaks/settings", json={"metrics": [{"key": "words", "threshold": 1}]}
    )
    assert settings.status_code == 200
    await make_system(
        env, triggers=[{"type": "streak", "points": 50, "streakLength": 2, "status": "active"}]
    )
    added = []
    for day in range(1, 6):
        await move_clock(env, f"2152-02-{day:02d}T12:00:00Z")
        response = (await env.event("words", {"id": "st", "tz": "UTC"}, 1)).json()
        added.append(response["points"].get("xp", {}).get("added"))
        again = (await env.event("words", "st", 1)).json()
        assert again["points"] == {}  # the same day does not extend the streak again
    assert added == [None, 50, None, 50, None]
    shown = (await env.app.get("/points/xp")).json()["triggers"][0]
    assert shown["streakLengthThreshold"] == 2


async def test_a_live_trigger_counts_again_from_zero_when_its_metric_changes(
    env: TestEnvironment,
) -> None:
    first, second = await env.metric("one", "One"), await env.metric("two", "Two")
    system = await make_system(
        env,
        triggers=[
            {
                "type": "metric",
                "points": 1,
                "metricId": first["id"],
                "metricThreshold": 3,
                "status": "active",
            }
        ],
    )
    await env.event("one", "re", 2)
    moved = await env.admin.patch(
        f"/points/{system['id']}/triggers",
        json=[{"id": system["triggers"][0]["id"], "metricId": second["id"]}],
    )
    assert moved.json()["updated"][0]["metricId"] == second["id"]
    assert (await env.event("two", "re", 2)).json()["points"] == {}
    assert (await env.event("two", "re", 1)).json()["points"]["xp"]["added"] == 1
