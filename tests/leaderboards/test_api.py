"""Admin validation, status actions, frozen settings, reads' errors and the outbox rows of
leaderboards, through the HTTP API (checked against the contract) with the test clock."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack
from tests.leaderboards.support import LEADERBOARD_TYPES, board, move_clock, outbox, patch
from tests.support.api import TestEnvironment, make_environment
from tests.support.outbox import listen


async def _issues(env: TestEnvironment, items: list[dict[str, Any]]) -> list[str]:
    response = await env.admin.post("/leaderboards", json=items)
    assert response.status_code in (200, 201), response.json()
    return [issue["message"] for issue in response.json()["issues"]]


async def test_create_validates_each_item(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2040-01-10T00:00:00Z")
    metric = await env.metric("words")
    base = {"name": "B", "rankBy": "metric", "metricId": metric["id"]}
    messages = await _issues(
        env,
        [
            {**base, "key": "no-metric", "metricId": None},
            {"name": "S", "key": "streaky", "rankBy": "streak", "runUnit": "day", "runInterval": 7},
            {**base, "key": "big", "maxParticipants": 1_000_001},
            {**base, "key": "interval", "runUnit": "month"},
            {"name": "P", "key": "points", "rankBy": "points", "pointsSystemId": metric["id"]},
            {**base, "key": "early", "status": "active", "start": "2040-02-01"},
            {**base, "key": "done", "status": "finished"},
            {**base, "key": "backwards", "start": "2040-02-01", "end": "2040-01-01"},
            {**base, "key": "ok", "maxParticipants": 1_000_000},
            {**base, "key": "ok"},
        ],
    )
    assert messages == [
        "metricId is required when rankBy is metric",
        "streak leaderboards cannot repeat: runUnit must not be set",
        "maxParticipants must be between 1 and 1000000",
        "runInterval must be an integer of at least 1 when runUnit is set",
        f"pointsSystemId {metric['id']} is not a points system",
        "start is in the future: a leaderboard starting later is scheduled",
        "a leaderboard is created finished only with an end in the past",
        "end must not be before start",
        "Key already in use by another leaderboard",
    ]
    listed = (await env.admin.get("/leaderboards")).json()
    assert [(b["key"], b["start"], b["maxParticipants"]) for b in listed] == [
        ("ok", "2040-01-10", 1_000_000)
    ]


async def test_status_actions_and_frozen_settings(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await listen(clock_stack, env, *LEADERBOARD_TYPES)
    await move_clock(env, "2041-01-10T00:00:00Z")
    metric = await env.metric("words")
    other = await env.metric("pages", name="Pages")
    created = await board(env, metricId=metric["id"], start="2041-01-20")
    assert (await env.app.get("/leaderboards/board")).status_code == 404  # inactive

    refused = await patch(env, id=created["id"], status="active")
    assert refused["issues"][0]["message"].startswith("start is in the future")
    assert (await patch(env, id=created["id"], status="scheduled"))["updated"][0]["status"] == (
        "scheduled"
    )
    frozen = await patch(env, id=created["id"], metricId=other["id"])
    assert frozen["issues"][0]["message"] == (
        "metricId cannot change once the leaderboard has been activated"
    )
    renamed = await patch(env, id=created["id"], name="Renamed", maxParticipants=10)
    assert renamed["updated"][0]["name"] == "Renamed"
    assert (await patch(env, id=created["id"], key="other"))["issues"][0]["message"] == (
        "key can change only while the leaderboard is inactive"
    )

    await move_clock(env, "2041-01-19T10:00:00Z")  # the day before, 10:00 UTC
    shown = (await env.app.get("/leaderboards/board")).json()
    assert (shown["status"], shown["name"]) == ("active", "Renamed")
    started = await outbox(clock_stack.runtime, env.scope_id, "leaderboard.started")
    assert [(p["leaderboard"]["key"], p["leaderboard"]["start"]) for p in started] == [
        ("board", "2041-01-20")
    ]

    await move_clock(env, "2041-01-21T00:00:00Z")
    await env.event("words", "alice", 3)
    finished = await patch(env, id=created["id"], status="finished")
    assert finished["updated"][0]["status"] == "finished"
    assert finished["updated"][0]["end"] == "2041-01-21"
    [payload] = await outbox(clock_stack.runtime, env.scope_id, "leaderboard.finished")
    assert payload["leaderboard"]["status"] == "finished"
    assert [(r["userId"], r["rank"], r["value"]) for r in payload["leaderboard"]["rankings"]] == [
        ("alice", 1, 3)
    ]
    terminal = await patch(env, id=created["id"], status="active")
    assert terminal["issues"][0]["message"] == "a finished leaderboard cannot change status"
    assert (await env.app.get("/leaderboards")).json() == []
    assert (await env.app.get("/leaderboards/board")).json()["status"] == "finished"

    deleted = await env.admin.delete("/leaderboards", params={"ids": created["id"]})
    assert deleted.json()["deleted"] == [{"id": created["id"]}]
    assert (await env.app.get("/leaderboards/board")).status_code == 404


async def test_rank_changes_reach_the_outbox(clock_stack: Stack) -> None:
    """Example B: D enters (null -> 3) and pushes C out (3 -> null)."""
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await listen(clock_stack, env, *LEADERBOARD_TYPES)
    await move_clock(env, "2042-01-01T08:00:00Z")
    metric = await env.metric("words")
    created = await board(env, metricId=metric["id"], maxParticipants=3)
    await patch(env, id=created["id"], status="active")
    for user, value in (("A", 10), ("B", 8), ("C", 5), ("D", 5), ("D", 1)):
        await env.event("words", user, value)
    changes = await outbox(clock_stack.runtime, env.scope_id, "leaderboard.rank_changed")
    moves = [
        (
            p["user"]["id"],
            p["leaderboard"]["previousRank"],
            p["leaderboard"]["rank"],
            p["leaderboard"]["value"],
        )
        for p in changes
    ]
    assert moves == [
        ("A", None, 1, 10),
        ("B", None, 2, 8),
        ("C", None, 3, 5),
        ("D", None, 3, 6),
        ("C", 3, None, None),
    ]
    changed = await outbox(clock_stack.runtime, env.scope_id, "leaderboard.changed")
    assert [r["userId"] for r in changed[-1]["leaderboard"]["rankings"]] == ["A", "B", "D"]


async def test_read_errors(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2043-01-01T00:00:00Z")
    metric = await env.metric("words")
    created = await board(env, metricId=metric["id"])
    await patch(env, id=created["id"], status="active")
    cases = {
        "/leaderboards/missing": 404,
        "/leaderboards/board?run=yesterday": 422,
        "/leaderboards/board?run=2042-12-31": 422,
        "/leaderboards/board?userAttributes=city:x": 422,
        "/leaderboards/board?offset=-1": 422,
        "/leaderboards?includeFinished=maybe": 422,
        "/users/nobody/leaderboards/board": 404,
    }
    for path, status in cases.items():
        response = await env.app.get(path)
        assert response.status_code == status, (path, response.json())
    await env.event("words", "known", 0)
    mine = (await env.app.get("/users/known/leaderboards/board")).json()
    assert (mine["rank"], mine["value"], mine["history"]) == (None, None, [])


async def test_streak_boards_follow_streaks_also_when_they_are_lost(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2044-03-01T12:00:00Z")
    await env.metric("lessons")
    settings = await env.admin.patch(
        "/streaks/settings", json={"metrics": [{"key": "lessons", "threshold": 1}]}
    )
    assert settings.status_code == 200, settings.json()
    created = await board(env, rankBy="streak", key="streaks")
    assert "metricId" not in created
    await patch(env, id=created["id"], status="active")
    first = (await env.event("lessons", "ann", 1)).json()["leaderboards"]["streaks"]
    assert (first["rank"], first["rankBy"], first["metricKey"]) == (1, "streak", None)
    await env.event("lessons", "bob", 1)
    await move_clock(env, "2044-03-02T12:00:00Z")
    second = (await env.event("lessons", "bob", 1)).json()["leaderboards"]["streaks"]
    assert (second["rank"], second["previousRank"]) == (1, 2)
    # The same day again: the streak does not grow, the board does not move.
    assert (await env.event("lessons", "bob", 1)).json()["leaderboards"] == {}
    ranked = (await env.app.get("/leaderboards/streaks")).json()["rankings"]
    assert [(r["userId"], r["value"]) for r in ranked] == [("bob", 2), ("ann", 1)]
    # ann misses 2044-03-02: her streak is lost at midnight, without an event.
    await move_clock(env, "2044-03-03T01:00:00Z")
    ranked = (await env.app.get("/leaderboards/streaks")).json()["rankings"]
    assert [(r["userId"], r["value"]) for r in ranked] == [("bob", 2)]
    # An admin reset takes bob off at once (the same transaction), and a restore brings
    # him back, both without an event and without moving the clock.
    reset = await env.admin.post("/streaks/reset", json={"users": [{"id": "bob"}]})
    assert reset.json()["resetUsers"] == ["bob"], reset.json()
    assert (await env.app.get("/leaderboards/streaks")).json()["rankings"] == []
    restored = await env.admin.post("/streaks/restore", json={"users": [{"id": "bob"}]})
    assert restored.status_code == 201, restored.json()
    ranked = (await env.app.get("/leaderboards/streaks")).json()["rankings"]
    assert [(r["userId"], r["value"]) for r in ranked] == [("bob", 2)]
