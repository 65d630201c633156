"""Points boards end to end: awards made by an event move the board in that event's
response; awards made outside events (user creation, time triggers at their due time)
reach the board through the award hooks; a board counts only points earned in its run."""

from __future__ import annotations

from plaudit.runtime import Runtime
from tests.conftest import Stack
from tests.leaderboards.support import board, move_clock, patch
from tests.points.test_api import ledger_sums, make_system, metric_trigger
from tests.support.api import TestEnvironment, make_environment


async def _ranked(env: TestEnvironment, key: str = "xp-board") -> list[tuple[str, int]]:
    response = await env.app.get(f"/leaderboards/{key}")
    assert response.status_code == 200, response.json()
    return [(r["userId"], r["value"]) for r in response.json()["rankings"]]


async def test_points_boards_rank_the_points_earned_in_the_run(clock_stack: Stack) -> None:
    runtime: Runtime = clock_stack.runtime
    env = await make_environment(runtime, clock_stack.http)
    await move_clock(env, "2046-06-01T08:00:00Z")
    metric = await env.metric("lessons")
    system = await make_system(
        env,
        triggers=[
            metric_trigger(metric["id"], 10),
            {"type": "user_creation", "points": 3, "status": "active"},
        ],
    )
    # "ann" earns before the board exists: only points earned in the run count.
    await env.event("lessons", "ann", 1)
    created = await board(env, key="xp-board", rankBy="points", pointsSystemId=system["id"])
    assert created["pointsSystemId"] == system["id"]
    await patch(env, id=created["id"], status="active")

    first = (await env.event("lessons", "bob", 2)).json()
    # 3 on creation (an award of its own, before the event), then 2 x 10 by the metric.
    assert (first["points"]["xp"]["added"], first["points"]["xp"]["total"]) == (20, 23)
    entry = first["leaderboards"]["xp-board"]
    # Ranked first by the creation award already, before the event's own awards.
    assert (entry["rank"], entry["previousRank"], entry["rankBy"]) == (1, 1, "points")
    assert (entry["pointsSystemKey"], entry["pointsSystemName"]) == ("xp", "XP")
    # The creation award came through the award hooks, the metric awards with the event.
    assert await _ranked(env) == [("bob", 23)]

    second = (await env.event("lessons", "ann", 3)).json()
    assert second["leaderboards"]["xp-board"]["rank"] == 1
    assert await _ranked(env) == [("ann", 30), ("bob", 23)]
    mine = (await env.app.get("/users/bob/leaderboards/xp-board")).json()
    assert (mine["rank"], mine["value"]) == (2, 23)

    # Awards made by the time-trigger sweep, outside any event, move the board too.
    hourly = await env.admin.post(
        f"/points/{system['id']}/triggers",
        json=[{"type": "time", "points": 5, "timeUnit": "hours", "timeInterval": 1}],
    )
    assert hourly.status_code == 201, hourly.json()
    [trigger] = hourly.json()["created"]
    activated = await env.admin.patch(
        f"/points/{system['id']}/triggers", json=[{"id": trigger["id"], "status": "active"}]
    )
    assert activated.status_code == 200, activated.json()
    await move_clock(env, "2046-06-01T09:30:00Z")
    assert await _ranked(env) == [("ann", 35), ("bob", 28)]
    # Each board value is the points earned in the run, each balance the sum of its ledger
    # (ann's balance also holds the 13 she earned before the board started).
    assert sorted(await ledger_sums(runtime, system["id"])) == [(28, 28), (48, 48)]
    # An event that awards nothing leaves the points board out of its response.
    await env.admin.patch(
        f"/points/{system['id']}/triggers",
        json=[{"id": t["id"], "status": "inactive"} for t in system["triggers"]],
    )
    assert (await env.event("lessons", "bob", 1)).json()["leaderboards"] == {}
