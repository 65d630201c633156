"""Admin actions on streaks (freezes, pauses, restore, reset) and `/streaks/rankings`, through
the HTTP API; where dates matter, with the test clock (years increase through the module).
The worked examples of streaks.md, pauses and restore included, are in test_timelines.py,
through the official SDK."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from plaudit.runtime import Runtime
from plaudit.streaks.tables import streak_pauses, user_streaks
from plaudit.users.tables import users
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.streaks.support import configure, event_streak, listen_to_streaks, streak_webhooks
from tests.support.api import TestEnvironment, make_environment

LONDON = "Europe/London"  # BST (UTC+1) from the end of March to the end of October


async def user(env: TestEnvironment, user_id: str, **fields: Any) -> None:
    response = await env.app.put(f"/users/{user_id}", json={"tz": LONDON, **fields})
    assert response.status_code in (200, 201), response.json()


async def streak(env: TestEnvironment, user_id: str, periods: int = 7) -> dict[str, Any]:
    response = await env.app.get(f"/users/{user_id}/streak", params={"historyPeriods": periods})
    assert response.status_code == 200, response.json()
    return response.json()  # type: ignore[no-any-return]


async def post(env: TestEnvironment, path: str, body: Any, status: int) -> dict[str, Any]:
    response = await env.admin.post(path, json=body)
    assert response.status_code == status, response.json()
    return response.json()  # type: ignore[no-any-return]


def issues(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    found = []
    for issue in body["issues"]:
        # Both spellings: the SDK's (severity, message) and the older Node SDK's.
        assert (issue["level"], issue["reason"]) == (issue["severity"], issue["message"])
        found.append((issue.get("userId", issue.get("id")), issue["severity"], issue["message"]))
    return found


async def pause_rows(runtime: Runtime, scope_id: int) -> dict[str, tuple[str, str, str]]:
    async with runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(select(streak_pauses).where(streak_pauses.c.scope_id == scope_id))
        return {str(r.id): (r.start.isoformat(), r.end.isoformat(), r.status) for r in rows}


async def daily_streak(env: TestEnvironment, user_id: str, first_day: str, days: int) -> None:
    """Events at 10:00 London time on `days` consecutive days from `first_day` (YYYY-MM-DD)."""
    import datetime as dt

    start = dt.date.fromisoformat(first_day)
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        await move_clock(env, f"{day.isoformat()}T09:00:00Z")
        await event_streak(env, "words", {"id": user_id, "tz": LONDON})


# --- freezes -----------------------------------------------------------------------------


async def test_one_freeze_per_item_up_to_the_maximum_and_one_webhook_per_user(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2201-03-01T12:00:00Z")
    await env.metric("words")
    await configure(
        env, metrics=[{"key": "words", "threshold": 1}], freezes={"startCount": 0, "maxCount": 2}
    )
    await user(env, "fa")
    await user(env, "fb")
    items = [{"userId": u} for u in ("fa", "fa", "nobody", "fa", "fb")]
    body = await post(env, "/streaks/freezes", {"freezes": items}, 201)
    assert issues(body) == [
        ("nobody", "error", "User does not exist"),
        ("fa", "warning", "Would exceed maximum freeze limit"),
    ]
    assert ((await streak(env, "fa"))["freezes"], (await streak(env, "fb"))["freezes"]) == (2, 1)
    earned = [
        (p["user"]["id"], p["earned"], p["freezes"])
        for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)
        if kind == "streak.freeze_earned"
    ]
    assert sorted(earned) == [("fa", 2, 2), ("fb", 1, 1)]

    full = await post(env, "/streaks/freezes", {"freezes": [{"userId": "fa"}]}, 200)
    assert issues(full) == [("fa", "warning", "Would exceed maximum freeze limit")]
    assert len(await streak_webhooks(clock_stack.runtime, env.scope_id)) == 2

    # A granted freeze keeps a streak through a missed day, like an earned one.
    await move_clock(env, "2201-03-02T10:00:00Z")
    assert (await event_streak(env, "words", "fb"))["length"] == 1
    await move_clock(env, "2201-03-04T00:00:00Z")  # 3 March missed (GMT in early March)
    kept = await streak(env, "fb", 3)
    assert (kept["length"], kept["freezes"]) == (1, 0)
    assert [h["usedFreeze"] for h in kept["streakHistory"]] == [False, True, False]


async def test_freezes_need_streaks_and_freezes_enabled(env: TestEnvironment) -> None:
    await user(env, "fz")
    off = await post(env, "/streaks/freezes", {"freezes": [{"userId": "fz"}]}, 200)
    assert issues(off) == [("fz", "error", "Streaks are not enabled")]
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    no_freezes = await post(env, "/streaks/freezes", {"freezes": [{"userId": "fz"}]}, 200)
    assert issues(no_freezes) == [("fz", "error", "Streak freezes are not enabled")]
    assert "freezes" not in await streak(env, "fz")


# --- pauses ------------------------------------------------------------------------------


async def test_pause_validation_is_per_item(clock_env: TestEnvironment) -> None:
    env = clock_env
    await move_clock(env, "2203-06-10T12:00:00Z")
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    await user(env, "pv")
    await user(env, "tokyo", tz="Asia/Tokyo")
    await move_clock(env, "2203-06-10T16:00:00Z")  # 17:00 in London, 01:00 on the 11th in Tokyo
    body = await post(
        env,
        "/streaks/pauses",
        {
            "pauses": [
                {"userId": "pv", "start": "2203-06-10", "end": "2203-06-10"},  # today: fine
                {"userId": "pv", "start": "2203-06-09", "end": "2203-06-20"},
                {"userId": "pv", "start": "2203-06-15", "end": "2203-06-14"},
                {"userId": "pv", "start": "2203-06-10", "end": "2203-06-12"},  # overlaps
                {"userId": "nobody", "start": "2203-07-01", "end": "2203-07-02"},
                {"userId": "tokyo", "start": "2203-06-10", "end": "2203-06-12"},  # its past
                {"userId": "tokyo", "start": "2203-06-11", "end": "2203-06-12"},
            ]
        },
        201,
    )
    assert [(p["userId"], p["start"]) for p in body["created"]] == [
        ("pv", "2203-06-10"),
        ("tokyo", "2203-06-11"),
    ]
    assert issues(body) == [
        ("pv", "error", "start must not be in the past"),
        ("pv", "error", "end must not be before start"),
        ("pv", "error", "Pause overlaps an existing active pause"),
        ("nobody", "error", "User does not exist"),
        ("tokyo", "error", "start must not be in the past"),
    ]
    nothing = await post(
        env,
        "/streaks/pauses",
        {"pauses": [{"userId": "nobody", "start": "2203-07-01", "end": "2203-07-02"}]},
        200,
    )
    assert (nothing["created"], len(nothing["issues"])) == ([], 1)


async def test_deleting_a_pause_archives_it_and_it_stops_applying(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2204-05-01T12:00:00Z")
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    await daily_streak(env, "pd", "2204-05-02", 2)  # length 2, P = 3 May
    made = await post(
        env,
        "/streaks/pauses",
        {
            "pauses": [
                {"userId": "pd", "start": "2204-05-04", "end": "2204-05-05"},
                {"userId": "pd", "start": "2204-06-01", "end": "2204-06-02"},
            ]
        },
        201,
    )
    near, far = (p["id"] for p in made["created"])
    other = await make_environment(clock_stack.runtime, clock_stack.http)
    foreign = await other.admin.delete("/streaks/pauses", params={"ids": near})
    assert issues(foreign.json()) == [(near, "error", "Streak pause not found by ID")]

    unknown = str(uuid.uuid4())
    response = await env.admin.delete(
        "/streaks/pauses", params={"ids": f"not-a-uuid,{near},{unknown}"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["deleted"] == [{"id": near}]
    assert issues(response.json()) == [
        ("not-a-uuid", "error", "id must be a valid UUID"),
        (unknown, "error", "Streak pause not found by ID"),
    ]
    again = await env.admin.delete("/streaks/pauses", params={"ids": [near.upper()]})
    assert (again.json()["deleted"], issues(again.json())) == (
        [],
        [(near.upper(), "error", "Streak pause not found by ID")],
    )
    rows = await pause_rows(clock_stack.runtime, env.scope_id)
    assert rows == {
        near: ("2204-05-04", "2204-05-05", "archived"),
        far: ("2204-06-01", "2204-06-02", "active"),
    }
    assert [p["id"] for p in (await streak(env, "pd"))["pauses"]] == [far]

    await move_clock(env, "2204-05-04T23:00:00Z")  # 4 May missed: the deleted pause is gone
    assert (await streak(env, "pd"))["length"] == 0
    lost = [p for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)]
    assert (lost[-1]["type"], lost[-1]["length"]) == ("streak.lost", 2)


async def test_pause_requests_that_break_the_schema_fail_whole(env: TestEnvironment) -> None:
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    await user(env, "ps")
    good = {"userId": "ps", "start": "2999-01-01", "end": "2999-01-02"}
    for body, words in [
        ({}, "pauses is required"),
        ({"pauses": []}, "pauses"),
        ({"pauses": [good] * 101}, "pauses"),
        ({"pauses": [good, {**good, "start": "2999-02-30"}]}, "pauses.1.start"),
        ({"pauses": [good, {**good, "end": 29990101}]}, "pauses.1.end"),
        ({"pauses": [good, {"userId": "ps", "start": "2999-01-01"}]}, "pauses.1.end"),
        ({"pauses": [{**good, "userId": None}]}, "pauses.0.userId"),
        ([good], "request body"),
    ]:
        response = await env.admin.post("/streaks/pauses", json=body)
        assert response.status_code == 422, (body, response.json())
        assert words in response.json()["error"], (words, response.json())
    assert (await streak(env, "ps"))["pauses"] == []
    missing = await env.admin.delete("/streaks/pauses")
    assert (missing.status_code, missing.json()["error"]) == (422, "ids is required")
    many = ",".join(str(uuid.uuid4()) for _ in range(101))
    too_many = await env.admin.delete("/streaks/pauses", params={"ids": many})
    assert too_many.status_code == 422
    assert "at most 100" in too_many.json()["error"]


# --- restore and reset -------------------------------------------------------------------


async def test_reset_sets_the_streak_to_zero_and_records_it(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2206-07-01T12:00:00Z")
    await env.metric("words")
    await configure(
        env, metrics=[{"key": "words", "threshold": 1}], freezes={"startCount": 2, "maxCount": 3}
    )
    await daily_streak(env, "rs", "2206-07-02", 3)
    await user(env, "idle")
    sent_before = len(await streak_webhooks(clock_stack.runtime, env.scope_id))
    await move_clock(env, "2206-07-05T08:00:00Z")  # 09:00 local on 5 July; P = 4 July
    body = await post(
        env, "/streaks/reset", {"users": [{"id": "rs"}, {"id": "idle"}, {"id": "nobody"}]}, 200
    )
    assert body["resetUsers"] == ["rs"]
    assert issues(body) == [
        ("idle", "warning", "No streak to reset"),
        ("nobody", "error", "User does not exist"),
    ]
    read = await streak(env, "rs", 2)
    assert (read["length"], read["started"], read["expires"], read["freezes"]) == (0, None, None, 2)
    assert read["streakHistory"] == [
        {
            "periodStart": "2206-07-04",
            "periodEnd": "2206-07-04",
            "length": 3,
            "usedFreeze": False,
            "usedPause": False,
        },
        {
            "periodStart": "2206-07-05",
            "periodEnd": "2206-07-05",
            "length": 0,
            "usedFreeze": False,
            "usedPause": False,
            "resetAt": "2206-07-05T08:00:00Z",
        },
    ]
    assert len(await streak_webhooks(clock_stack.runtime, env.scope_id)) == sent_before
    again = await post(env, "/streaks/reset", {"users": [{"id": "rs"}]}, 200)
    assert issues(again) == [("rs", "warning", "No streak to reset")]
    # The reset streak is kept for restore; no freeze is spent on it.
    await move_clock(env, "2206-07-05T09:00:00Z")
    back = await post(env, "/streaks/restore", {"users": [{"id": "rs"}]}, 201)
    assert back["restoredUsers"] == ["rs"]
    assert (await streak(env, "rs"))["length"] == 3


async def test_streaks_off_and_users_who_turned_them_off(env: TestEnvironment) -> None:
    await user(env, "so")
    for path, key in (("/streaks/restore", "restoredUsers"), ("/streaks/reset", "resetUsers")):
        body = await post(env, path, {"users": [{"id": "so"}]}, 200)
        assert (body[key], issues(body)) == ([], [("so", "error", "Streaks are not enabled")])
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    assert (await env.event("words", "so")).json()["currentStreak"]["length"] == 1
    prefs = await env.app.patch("/users/so/preferences", json={"streak": {"enabled": False}})
    assert prefs.status_code == 200, prefs.json()
    reset = await post(env, "/streaks/reset", {"users": [{"id": "so"}]}, 200)
    assert issues(reset) == [("so", "warning", "No streak to reset")]
    restore = await post(env, "/streaks/restore", {"users": [{"id": "so"}]}, 200)
    assert issues(restore) == [("so", "warning", "No streak to restore")]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/streaks/freezes", {}, "freezes is required"),
        ("/streaks/freezes", {"freezes": []}, "freezes"),
        ("/streaks/freezes", {"freezes": [{"userId": "ok"}] * 101}, "freezes"),
        ("/streaks/freezes", {"freezes": [{"userId": "ok"}, {"userId": 7}]}, "freezes.1.userId"),
        ("/streaks/freezes", {"freezes": [{"user": "ok"}]}, "freezes.0.userId is required"),
        ("/streaks/freezes", [{"userId": "ok"}], "request body"),
        ("/streaks/restore", {"users": []}, "users"),
        ("/streaks/restore", {"users": [{"id": "ok"}, {}]}, "users.1.id is required"),
        ("/streaks/restore", {"users": [{"id": "ok"}] * 101}, "users"),
        ("/streaks/reset", {}, "users is required"),
        ("/streaks/reset", {"users": [{"id": "ok"}, {"id": ["x"]}]}, "users.1.id"),
        ("/streaks/reset", {"users": "ok"}, "users"),
    ],
)
async def test_bodies_that_break_the_schema_answer_400_and_change_nothing(
    env: TestEnvironment, path: str, body: Any, words: str
) -> None:
    await env.metric("words")
    await configure(
        env, metrics=[{"key": "words", "threshold": 1}], freezes={"startCount": 0, "maxCount": 5}
    )
    assert (await env.event("words", "ok")).json()["currentStreak"]["length"] == 1
    response = await env.admin.post(path, json=body)
    assert response.status_code == 400, response.json()
    assert words in response.json()["error"], response.json()
    after = await streak(env, "ok")
    assert (after["length"], after["freezes"]) == (1, 0)


async def test_not_json_and_the_wrong_key(env: TestEnvironment) -> None:
    for path, status in (
        ("/streaks/freezes", 400),
        ("/streaks/restore", 400),
        ("/streaks/reset", 400),
        ("/streaks/pauses", 422),
    ):
        broken = await env.admin.post(
            path, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == status, (path, broken.json())
        assert "JSON" in broken.json()["error"]
        anonymous = await env.admin.post(path, json={}, headers={"X-API-KEY": "nope"})
        assert anonymous.status_code == 401, anonymous.json()


# --- rankings ----------------------------------------------------------------------------


async def test_rankings_by_active_and_longest_streaks(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await move_clock(env, "2207-09-01T12:00:00Z")
    off = await env.app.get("/streaks/rankings")
    assert (off.status_code, off.json()) == (200, [])  # streaks not configured
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    await user(env, "ra", name="Ann")
    await user(env, "rb")
    await user(env, "rc", name="Cid")
    await user(env, "rd", name="Dot")
    await daily_streak(env, "rc", "2207-09-02", 2)  # then lost: longest 2
    await daily_streak(env, "ra", "2207-09-04", 3)
    await move_clock(env, "2207-09-06T10:00:00Z")
    await event_streak(env, "words", "rb")
    await event_streak(env, "words", "rd")
    prefs = await env.app.patch("/users/rd/preferences", json={"streak": {"enabled": False}})
    assert prefs.status_code == 200, prefs.json()

    async def ranked(**params: Any) -> list[tuple[str, Any, int]]:
        response = await env.app.get("/streaks/rankings", params=params)
        assert response.status_code == 200, response.json()
        return [(r["userId"], r["name"], r["streakLength"]) for r in response.json()]

    assert await ranked() == [("ra", "Ann", 3), ("rb", None, 1)]
    assert await ranked(type="active", limit=1) == [("ra", "Ann", 3)]
    assert await ranked(type="longest") == [
        ("ra", "Ann", 3),
        ("rc", "Cid", 2),
        ("rb", None, 1),
        ("rd", "Dot", 1),
    ]
    assert await ranked(type="longest", limit=2) == [("ra", "Ann", 3), ("rc", "Cid", 2)]

    # A stored length is only an upper bound: the ranking reads streaks as of now.
    async with clock_stack.runtime.db.transaction() as conn:
        pk = await conn.scalar(
            select(users.c.pk).where(users.c.scope_id == env.scope_id, users.c.id == "rb")
        )
        await conn.execute(
            update(user_streaks).where(user_streaks.c.user_pk == pk).values(length=99)
        )
    assert await ranked(limit=1) == [("ra", "Ann", 3)]
    assert await ranked() == [("ra", "Ann", 3), ("rb", None, 1)]

    for params, words in (
        ({"type": "best"}, "type"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
    ):
        bad = await env.app.get("/streaks/rankings", params=params)
        assert bad.status_code == 422, bad.json()
        assert words in bad.json()["error"]
    anonymous = await env.app.get("/streaks/rankings", headers={"X-API-KEY": "nope"})
    assert anonymous.status_code == 401
