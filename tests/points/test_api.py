"""Points through the HTTP API (contract-checked): the worked examples A and D of the
points behaviour, blocking, caps, admin issues, and the ledger invariant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from plaudit.points.tables import points_awards, points_balances
from plaudit.runtime import Runtime
from tests.support.api import TestEnvironment


async def make_system(env: TestEnvironment, key: str = "xp", **extra: Any) -> dict[str, Any]:
    response = await env.admin.post("/points", json=[{"name": key.upper(), "key": key, **extra}])
    assert response.status_code == 201, response.json()
    assert response.json()["issues"] == []
    return response.json()["created"][0]  # type: ignore[no-any-return]


def metric_trigger(metric_id: str, points: int, threshold: int = 1, **extra: Any) -> dict[str, Any]:
    """An active metric trigger: `points` every `threshold` units of the metric."""
    return {
        "type": "metric",
        "points": points,
        "metricId": metric_id,
        "metricThreshold": threshold,
        "status": "active",
        **extra,
    }


async def ledger_sums(runtime: Runtime, system: str) -> list[tuple[int, int]]:
    """(balance, sum of its awards) for every balance of the system."""
    system_id = uuid.UUID(system)
    async with runtime.db.transaction(write=False) as conn:
        sums = (
            select(points_awards.c.user_pk, func.sum(points_awards.c.awarded).label("s"))
            .where(points_awards.c.system_id == system_id)
            .group_by(points_awards.c.user_pk)
            .subquery()
        )
        rows = await conn.execute(
            select(points_balances.c.total, sums.c.s)
            .join(sums, sums.c.user_pk == points_balances.c.user_pk)
            .where(points_balances.c.system_id == system_id)
        )
        return [(int(a), int(b)) for a, b in rows]


async def test_metric_trigger_example_a(env: TestEnvironment, runtime: Runtime) -> None:
    metric = await env.metric("flashcards", "Flashcards")
    system = await make_system(
        env,
        triggers=[metric_trigger(metric["id"], 10, 3)],
    )
    assert system["triggers"][0]["status"] == "active"
    seen = []
    for value in (2, 2, 5, -4, 3, 4):
        response = await env.event("flashcards", "ann", value)
        assert response.status_code == 201, response.json()
        entry = response.json()["points"].get("xp")
        seen.append(None if entry is None else (entry["total"], entry["added"]))
    assert seen == [None, (10, 10), (30, 20), None, None, (40, 10)]
    user = (await env.app.get("/users/ann/points/xp", params={"awards": 2})).json()
    assert user["total"] == 40
    assert [a["awarded"] for a in user["awards"]] == [10, 20]
    assert user["awards"][0]["trigger"]["metricThreshold"] == 3
    assert await ledger_sums(runtime, system["id"]) == [(40, 40)]


async def test_levels_example_d(env: TestEnvironment) -> None:
    await env.metric("xp-earned", "XP earned")
    metric_id = (await env.admin.get("/metrics")).json()[0]["id"]
    system = await make_system(
        env,
        levels=[
            {"name": "Bronze", "key": "bronze", "points": 0},
            {"name": "Silver", "key": "silver", "points": 50},
            {"name": "Gold", "key": "gold", "points": 200},
        ],
        triggers=[
            {
                "type": "metric",
                "points": 1,
                "metricId": metric_id,
                "metricThreshold": 1,
                "status": "active",
            },
        ],
    )
    assert [lv["key"] for lv in system["levels"]] == ["bronze", "silver", "gold"]
    first = (await env.event("xp-earned", "bo", 40)).json()["points"]["xp"]
    assert (first["total"], "level" in first) == (40, False)  # bronze from 0 already
    steps = []
    for value in (20, 10):
        entry = (await env.event("xp-earned", "bo", value)).json()["points"]["xp"]
        steps.append(
            (entry["total"], entry.get("level", {}).get("key") if "level" in entry else "-")
        )
    assert steps == [(60, "silver"), (70, "-")]
    levels = (await env.app.get("/points/xp/level-summary")).json()
    assert [(x["level"]["key"], x["users"]) for x in levels] == [
        ("bronze", 0),
        ("silver", 1),
        ("gold", 0),
    ]
    summary = (await env.app.get("/points/xp/summary")).json()
    assert summary[0] == {"from": 0, "to": 0, "users": 0}
    assert summary[1] == {"from": 1, "to": 10, "users": 0}
    assert summary[7] == {"from": 61, "to": 70, "users": 1}


async def test_block_if_out_of_points_writes_nothing(
    env: TestEnvironment, runtime: Runtime
) -> None:
    metric = await env.metric("flashcards", "Flashcards")
    system = await make_system(
        env,
        key="energy",
        maxPoints=5,
        triggers=[
            {"type": "user_creation", "points": 5, "status": "active"},
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
    assert (await env.app.post("/users", json={"id": "cy"})).status_code == 201
    for _ in range(5):
        entry = (await env.event("flashcards", "cy", 1)).json()["points"]["energy"]
        assert entry["added"] == -1
    refused = await env.event("flashcards", "cy", 1)
    assert refused.status_code == 422
    assert refused.json() == {"error": "Insufficient points in points system 'energy'"}
    metrics = (await env.app.get("/users/cy/metrics/flashcards")).json()
    assert metrics["current"] == 5
    assert (await env.app.get("/users/cy/points/energy")).json()["total"] == 0
    assert await ledger_sums(runtime, system["id"]) == [(0, 0)]


async def test_admin_issues(env: TestEnvironment) -> None:
    system = await make_system(env)
    response = await env.admin.post(
        f"/points/{system['id']}/triggers",
        json=[
            {"type": "metric", "points": 5},
            {"type": "streak", "points": 0, "streakLength": 3},
            {"type": "time", "points": 1, "timeUnit": "hours", "timeInterval": 2},
            {"type": "streak", "points": 1, "streakLength": 2, "metricThreshold": 2},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert [t["status"] for t in body["created"]] == ["inactive"]
    assert [(i["index"], i["message"]) for i in body["issues"]] == [
        (0, "metricId, metricThreshold is required for metric triggers"),
        (1, "points must not be 0"),
        (3, "metricThreshold is not allowed for streak triggers"),
    ]
    nulls = await env.admin.patch(
        "/points",
        json=[{"id": system["id"], "name": None}, {"id": system["id"], "maxPoints": None}],
    )
    assert [i["message"] for i in nulls.json()["issues"]] == ["name may not be null"]
    assert nulls.json()["updated"][0]["maxPoints"] is None
    again = await env.admin.post("/points", json=[{"name": "Again", "key": "xp"}])
    assert again.status_code == 200
    assert again.json()["issues"][0]["index"] == 0
    missing = await env.admin.delete(
        f"/points/{system['id']}/boosts", params={"ids": "8d6d1e2c-3b7a-4a61-9c7a-4e8f0f8b8b8b"}
    )
    assert missing.json()["issues"][0]["message"] == "Points boost not found by ID"
    deleted = await env.admin.delete("/points", params={"ids": system["id"]})
    assert deleted.json()["deleted"] == [{"id": system["id"]}]
    assert (await env.app.get("/points/xp")).status_code == 404
