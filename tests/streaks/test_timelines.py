"""The worked timelines of the streak behaviour, through the HTTP API and the test clock:
events, the end-of-period sweep at each user's local midnight, reads and webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from plaudit.runtime import Runtime
from plaudit.webhooks.tables import webhook_events
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment


async def configure(env: TestEnvironment, **settings: Any) -> None:
    response = await env.admin.patch("/streaks/settings", json=settings)
    assert response.status_code == 200, response.json()


async def streak_webhooks(runtime: Runtime, scope_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.type, webhook_events.c.payload)
            .where(webhook_events.c.scope_id == scope_id, webhook_events.c.type.like("streak.%"))
            .order_by(webhook_events.c.created, webhook_events.c.id)
        )
        return [(row.type, row.payload) for row in rows]


async def event_streak(
    env: TestEnvironment, metric: str, user: str | dict[str, Any], value: float = 1
) -> dict[str, Any]:
    response = await env.event(metric, user, value)
    assert response.status_code == 201, response.json()
    return response.json()["currentStreak"]  # type: ignore[no-any-return]


def brief(streak: dict[str, Any]) -> tuple[Any, ...]:
    return (
        streak["length"],
        streak["started"],
        streak["periodStart"],
        streak["periodEnd"],
        streak["expires"],
        streak.get("extended"),
    )


async def test_daily_start_extend_lose_and_start_again(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await move_clock(env, "2131-04-01T12:00:00Z")
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    london = {"id": "ada", "tz": "Europe/London"}  # BST (UTC+1) in April

    await move_clock(env, "2131-04-02T08:00:00Z")  # 09:00 local
    first = await event_streak(env, "words", london)
    assert brief(first) == (1, "2131-04-02", "2131-04-02", "2131-04-02", "2131-04-03", True)
    assert first["frequency"] == "daily"
    assert "freezes" not in first
    await move_clock(env, "2131-04-02T17:00:00Z")
    assert brief(await event_streak(env, "words", london, 3))[0::5] == (1, False)
    await move_clock(env, "2131-04-03T06:30:00Z")  # 07:30 local
    second = await event_streak(env, "words", london)
    assert brief(second) == (2, "2131-04-02", "2131-04-03", "2131-04-03", "2131-04-04", True)

    await move_clock(env, "2131-04-04T22:59:59Z")  # 4 April passes without activity
    assert (await env.app.get("/users/ada/streak")).json()["length"] == 2
    await move_clock(env, "2131-04-04T23:00:00Z")  # local midnight: the sweep
    lost = (await env.app.get("/users/ada/streak")).json()
    assert (lost["length"], lost["started"], lost["expires"], lost["extended"]) == (
        0,
        None,
        None,
        None,
    )
    sent = await streak_webhooks(clock_stack.runtime, env.scope_id)
    assert [(kind, p.get("length")) for kind, p in sent] == [
        ("streak.started", None),
        ("streak.extended", None),
        ("streak.lost", 2),
    ]
    assert sent[1][1]["streak"]["length"] == 2
    assert sent[1][1]["user"]["id"] == "ada"

    await move_clock(env, "2131-04-05T09:00:00Z")  # 10:00 local
    again = await event_streak(env, "words", london)
    assert brief(again) == (1, "2131-04-05", "2131-04-05", "2131-04-05", "2131-04-06", True)
    await move_clock(env, "2131-04-05T10:00:00Z")
    read = (await env.app.get("/users/ada/streak", params={"historyPeriods": 4})).json()
    assert [
        (h["periodStart"], h["length"], h["usedFreeze"], h["usedPause"])
        for h in read["streakHistory"]
    ] == [
        ("2131-04-02", 1, False, False),
        ("2131-04-03", 2, False, False),
        ("2131-04-04", 0, False, False),
        ("2131-04-05", 1, False, False),
    ]
    assert read["extended"] == "2131-04-05T09:00:00Z"
    assert read["pauses"] == []


async def test_daily_with_freezes_consumed_at_midnight_and_earned_every_seven_days(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await move_clock(env, "2132-04-01T12:00:00Z")
    await env.metric("words")
    await configure(
        env,
        metrics=[{"key": "words", "threshold": 1}],
        freezes={"startCount": 1, "maxCount": 3, "autoEarnInterval": 7, "autoEarnAmount": 1},
    )
    london = {"id": "bo", "tz": "Europe/London"}
    await move_clock(env, "2132-04-02T08:00:00Z")
    first = await event_streak(env, "words", london)
    assert (first["length"], first["freezes"], first["maxFreezes"]) == (1, 1, 3)
    assert (first["freezeAutoEarnInterval"], first["freezeAutoEarnAmount"]) == (7, 1)
    await move_clock(env, "2132-04-03T06:30:00Z")
    assert (await event_streak(env, "words", london))["length"] == 2

    await move_clock(env, "2132-04-04T23:00:00Z")  # midnight after the missed 4 April
    kept = (await env.app.get("/users/bo/streak", params={"historyPeriods": 3})).json()
    assert (kept["length"], kept["freezes"], kept["periodStart"], kept["expires"]) == (
        2,
        0,
        "2132-04-04",
        "2132-04-05",
    )
    assert [(h["periodStart"], h["length"], h["usedFreeze"]) for h in kept["streakHistory"]] == [
        ("2132-04-03", 2, False),
        ("2132-04-04", 2, True),
        ("2132-04-05", 2, False),
    ]
    await move_clock(env, "2132-04-05T09:00:00Z")
    third = await event_streak(env, "words", london)
    assert (third["length"], third["freezes"], third["extended"]) == (3, 0, True)

    for day in ("06", "07", "08"):
        await move_clock(env, f"2132-04-{day}T09:00:00Z")
        await event_streak(env, "words", london)
    await move_clock(env, "2132-04-08T23:10:00Z")  # 9 April, 00:10 local: 7 days after creation
    earned = (await env.app.get("/users/bo/streak")).json()
    assert (earned["length"], earned["freezes"]) == (6, 1)
    sent = [
        (kind, {k: v for k, v in p.items() if k in ("consumed", "earned", "freezes")})
        for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)
        if kind.startswith("streak.freeze")
    ]
    assert sent == [
        ("streak.freeze_consumed", {"consumed": 1, "freezes": 0}),
        ("streak.freeze_earned", {"earned": 1, "freezes": 1}),
    ]


async def test_weekly_streaks_follow_sunday_weeks_in_the_users_zone(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    # 2 April 2138 is a Wednesday; New York is on EDT (UTC-4).
    await move_clock(env, "2138-04-01T12:00:00Z")
    await env.metric("words")
    await configure(env, frequency="weekly", metrics=[{"key": "words", "threshold": 1}])
    ny = {"id": "cy", "tz": "America/New_York"}
    await move_clock(env, "2138-04-02T16:00:00Z")
    first = await event_streak(env, "words", ny)
    assert brief(first) == (1, "2138-04-02", "2138-03-30", "2138-04-05", "2138-04-12", True)
    await move_clock(env, "2138-04-04T16:00:00Z")
    assert brief(await event_streak(env, "words", ny))[0::5] == (1, False)
    await move_clock(env, "2138-04-08T16:00:00Z")
    second = await event_streak(env, "words", ny)
    assert brief(second) == (2, "2138-04-02", "2138-04-06", "2138-04-12", "2138-04-19", True)
    await move_clock(env, "2138-04-20T03:59:59Z")  # Saturday 19 April, 23:59:59 local
    assert (await env.app.get("/users/cy/streak")).json()["length"] == 2
    await move_clock(env, "2138-04-20T04:00:00Z")  # Sunday 00:00 local: the week ended
    assert (await env.app.get("/users/cy/streak")).json()["length"] == 0
    lost = [p for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)]
    assert lost[-1] == {**lost[-1], "type": "streak.lost", "length": 2}


async def test_and_or_evaluation_and_a_personalized_user(clock_env: TestEnvironment) -> None:
    env = clock_env
    await move_clock(env, "2139-05-01T12:00:00Z")
    await env.metric("words")
    await env.metric("lessons")
    await configure(
        env,
        evaluationMode="AND",
        customizationEnabled=True,
        metrics=[{"key": "words", "threshold": 500}, {"key": "lessons", "threshold": 1}],
    )
    both, either, own = "and-user", "or-user", "own-user"
    for user in (both, either, own):
        assert (await env.app.put(f"/users/{user}", json={"tz": "UTC"})).status_code in (200, 201)
    await move_clock(env, "2139-05-02T10:00:00Z")
    assert (await event_streak(env, "words", both, 300))["extended"] is False
    assert (await event_streak(env, "lessons", both, 1))["extended"] is False
    assert (await event_streak(env, "words", both, 250))["extended"] is True

    await configure(env, evaluationMode="OR")
    assert (await event_streak(env, "words", either, 300))["extended"] is False
    assert (await event_streak(env, "lessons", either, 1))["extended"] is True
    assert (await event_streak(env, "words", either, 250))["extended"] is False  # once a day

    prefs = {"streak": {"evaluationMode": "OR", "metrics": [{"key": "words", "threshold": 200}]}}
    assert (await env.app.patch(f"/users/{own}/preferences", json=prefs)).status_code == 200
    assert (await event_streak(env, "lessons", own, 1))["extended"] is False  # not theirs
    assert (await event_streak(env, "words", own, 300))["extended"] is True


async def test_a_traveller_across_the_date_line_keeps_the_streak_and_counts_no_day_twice(
    clock_env: TestEnvironment,
) -> None:
    env = clock_env
    await move_clock(env, "2140-06-01T00:00:00Z")
    await env.metric("words")
    await configure(env, metrics=[{"key": "words", "threshold": 1}])
    kiritimati = {"id": "dee", "tz": "Pacific/Kiritimati"}  # UTC+14
    honolulu = {"id": "dee", "tz": "Pacific/Honolulu"}  # UTC-10

    await move_clock(env, "2140-06-03T20:00:00Z")  # 4 June, 10:00 in Kiritimati
    assert brief(await event_streak(env, "words", kiritimati))[:3] == (
        1,
        "2140-06-04",
        "2140-06-04",
    )
    # Flies west: in Honolulu it is 3 June again. That date is not a new period.
    await move_clock(env, "2140-06-04T06:00:00Z")
    again = await event_streak(env, "words", honolulu)
    assert (again["length"], again["periodStart"], again["extended"]) == (1, "2140-06-04", False)
    await move_clock(env, "2140-06-05T12:00:00Z")  # 5 June, 02:00 in Honolulu
    assert brief(await event_streak(env, "words", honolulu))[0::5] == (2, True)
    await move_clock(env, "2140-06-06T11:00:00Z")  # 6 June, 01:00 in Honolulu
    assert brief(await event_streak(env, "words", honolulu))[0::5] == (3, True)
    # Flies back east: 7 June, 02:00 in Kiritimati. The streak goes on.
    await move_clock(env, "2140-06-06T12:00:00Z")
    back = await event_streak(env, "words", kiritimati)
    assert (back["length"], back["periodStart"], back["extended"]) == (4, "2140-06-07", True)
    read = (await env.app.get("/users/dee/streak", params={"historyPeriods": 5})).json()
    assert [(h["periodStart"], h["length"]) for h in read["streakHistory"]] == [
        ("2140-06-03", 0),
        ("2140-06-04", 1),
        ("2140-06-05", 2),
        ("2140-06-06", 3),
        ("2140-06-07", 4),
    ]


async def test_streaks_off_answer_length_zero_and_batches_count_once_per_day(
    clock_env: TestEnvironment,
) -> None:
    env = clock_env
    await move_clock(env, "2141-01-10T12:00:00Z")
    await env.metric("words")
    off = await event_streak(env, "words", "eve")
    assert brief(off) == (0, None, None, None, None, False)
    await configure(env, metrics=[{"key": "words", "threshold": 2}])
    batch = [{"key": "words", "user": {"id": "eve"}, "value": 1} for _ in range(5)]
    assert (await env.admin.post("/metrics/events", json=batch)).status_code == 202
    for _ in range(100):
        read = (await env.app.get("/users/eve/streak")).json()
        if read["length"]:
            break
        await move_clock(env, "2141-01-10T12:00:00Z")  # runs the queued batch job
    assert (read["length"], read["periodStart"]) == (1, "2141-01-10")
    bulk = (await env.app.get("/streaks", params={"userIds": "nobody,eve"})).json()
    assert bulk == [
        {"userId": "eve", "streakLength": 1, "extended": "2141-01-10T12:00:00Z"},
        {"userId": "nobody", "streakLength": 0, "extended": None},
    ]
