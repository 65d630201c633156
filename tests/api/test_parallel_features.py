"""Parallel events for one user across several metrics, with every feature listening:
each event's rows (totals, streak, points marks and balances, achievement, board entries)
are written by concurrent transactions, and none of them may deadlock or lose a unit."""

from __future__ import annotations

import asyncio

from tests.achievements.test_api import define
from tests.leaderboards.support import board, patch
from tests.points.test_api import make_system, metric_trigger
from tests.streaks.support import configure
from tests.support.api import TestEnvironment

EACH = 16  # events per metric, all sent at once


async def test_parallel_events_on_several_metrics_with_every_feature(env: TestEnvironment) -> None:
    metrics = {key: await env.metric(key) for key in ("reads", "quizzes", "videos")}
    worth = {"reads": 1, "quizzes": 2, "videos": 3}
    system = await make_system(
        env, triggers=[metric_trigger(metrics[key]["id"], worth[key]) for key in metrics]
    )
    await configure(
        env, metrics=[{"key": "reads", "threshold": 1}, {"key": "quizzes", "threshold": 1}]
    )
    await define(
        env, trigger="metric", metricId=metrics["videos"]["id"], metricValue=EACH, status="active"
    )
    for key, fields in {
        "xp-board": {"rankBy": "points", "pointsSystemId": system["id"]},
        "reads-board": {"rankBy": "metric", "metricId": metrics["reads"]["id"]},
    }.items():
        created = await board(env, key=key, **fields)
        await patch(env, id=created["id"], status="active")

    sends = [env.event(key, "ada", 1) for key in metrics for _ in range(EACH)]
    sends += [env.event("reads", "bob", 1) for _ in range(EACH)]
    responses = await asyncio.gather(*sends)
    assert [r.status_code for r in responses] == [201] * len(sends), [
        r.json() for r in responses if r.status_code != 201
    ]

    for key in metrics:
        current = (await env.app.get(f"/users/ada/metrics/{key}")).json()["current"]
        assert current == EACH
    expected_xp = EACH * sum(worth.values())
    points = (await env.app.get("/users/ada/points/xp")).json()
    assert points["total"] == expected_xp
    completed = [a for r in responses for a in r.json()["achievements"]]
    assert len(completed) == 1
    streak = (await env.app.get("/users/ada/streak")).json()
    assert streak["length"] == 1
    ranked = {}
    for key in ("xp-board", "reads-board"):
        rankings = (await env.app.get(f"/leaderboards/{key}")).json()["rankings"]
        ranked[key] = [(row["userId"], row["value"]) for row in rankings]
    assert ranked["xp-board"] == [("ada", expected_xp), ("bob", EACH)]
    assert sorted(ranked["reads-board"]) == [("ada", EACH), ("bob", EACH)]  # a tie
