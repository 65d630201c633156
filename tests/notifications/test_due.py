"""The four `emails.*_due` webhooks on the test clock, in users' local time.

One clock serves the module and only moves forward: each test has a year of its own.
Users without `tz` are in Eastern Time (America/New_York, with DST); the others are in
Tokyo (no DST) or London (DST on another date).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plaudit.core.schemas import format_timestamp
from plaudit.events import pipeline
from plaudit.notifications import sweep
from plaudit.users.schemas import UpsertedUser
from tests.achievements.test_api import define
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.notifications.support import KINDS, due_webhooks, event_at, set_preferences, utc
from tests.streaks.support import configure
from tests.support.api import TestEnvironment
from tests.support.outbox import listen

REACTIVATION = "emails.reactivation_due"
RECAP = "emails.recap_due"


def just_before(at: str) -> str:
    return format_timestamp(utc(at) - dt.timedelta(seconds=1))


def who(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["user"]["id"] for p in payloads]


async def test_reactivation_messages_after_3_5_7_14_and_30_days_at_17_local(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    # 10:00 EST on 1 March 2040 for New York; already 2 March (00:00) in Tokyo.
    await event_at(env, "2040-03-01T15:00:00Z", "ny")
    await event_at(env, "2040-03-01T15:00:00Z", {"id": "tokyo", "tz": "Asia/Tokyo"})

    async def step(before: str, at: str) -> list[tuple[str, int, int, str]]:
        """Nothing new just before `at`; what became due at `at`."""
        await move_clock(env, before)
        assert await due_webhooks(runtime, env.scope_id, REACTIVATION, at) == []
        await move_clock(env, at)
        return [
            (
                p["user"]["id"],
                p["reactivation"]["messageNumber"],
                p["reactivation"]["daysSinceLastActive"],
                p["timestamp"],
            )
            for p in await due_webhooks(runtime, env.scope_id, REACTIVATION, at)
        ]

    # Tokyo: 17:00 JST = 08:00Z on 2 March + 3, 5, 7, 14, 30 days.
    # New York: 17:00 on 1 March + 3, 5, 7 days (EST), + 14, 30 days (EDT from 11 March).
    expected = [
        ("2040-03-05T08:00:00Z", "tokyo", 1, 3),
        ("2040-03-04T22:00:00Z", "ny", 1, 3),
        ("2040-03-07T08:00:00Z", "tokyo", 2, 5),
        ("2040-03-06T22:00:00Z", "ny", 2, 5),
        ("2040-03-09T08:00:00Z", "tokyo", 3, 7),
        ("2040-03-08T22:00:00Z", "ny", 3, 7),
        ("2040-03-16T08:00:00Z", "tokyo", 4, 14),
        ("2040-03-15T21:00:00Z", "ny", 4, 14),
        ("2040-04-01T08:00:00Z", "tokyo", 5, 30),
        ("2040-03-31T21:00:00Z", "ny", 5, 30),
    ]
    for at, user, number, days in sorted(expected):
        assert await step(just_before(at), at) == [(user, number, days, at)]
    # After the fifth message the sequence is over.
    await move_clock(env, "2040-06-01T00:00:00Z")
    assert await due_webhooks(runtime, env.scope_id, REACTIVATION, "2040-04-01T08:00:01Z") == []


async def test_any_event_restarts_the_reactivation_sequence(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    london = {"id": "london", "tz": "Europe/London"}
    await event_at(env, "2041-01-01T09:00:00Z", london)
    await move_clock(env, "2041-01-04T17:00:00Z")
    [first] = await due_webhooks(runtime, env.scope_id, "emails.reactivation_due")
    assert (first["reactivation"]["messageNumber"], first["timestamp"]) == (
        1,
        "2041-01-04T17:00:00Z",
    )
    # Back on the 5th: no second message on the 6th, message 1 again on the 8th.
    await event_at(env, "2041-01-05T12:00:00Z", london)
    await move_clock(env, "2041-01-08T16:59:59Z")
    assert len(await due_webhooks(runtime, env.scope_id, "emails.reactivation_due")) == 1
    await move_clock(env, "2041-01-08T17:00:00Z")
    again = await due_webhooks(runtime, env.scope_id, REACTIVATION, "2041-01-05T00:00:00Z")
    assert [(p["reactivation"]["messageNumber"], p["timestamp"]) for p in again] == [
        (1, "2041-01-08T17:00:00Z")
    ]


async def test_recaps_at_9_local_on_the_first_day_of_the_week_for_active_users(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    await move_clock(env, "2042-03-01T00:00:00Z")
    await env.app.put("/users/idle", json={"tz": "Asia/Tokyo"})  # no event: no recap
    # Wednesday 5 March 2042 (Thursday in Tokyo); the week (Sunday to Saturday) ends on
    # the 8th. New York moves to EDT on Sunday 9 March at 02:00, before the recap's 09:00.
    await event_at(env, "2042-03-05T15:00:00Z", "ny")
    await event_at(env, "2042-03-05T15:00:00Z", {"id": "tokyo", "tz": "Asia/Tokyo"})
    await move_clock(env, "2042-03-08T23:59:59Z")  # 08:59:59 on Sunday in Tokyo
    assert await due_webhooks(runtime, env.scope_id, RECAP) == []
    await move_clock(env, "2042-03-09T00:00:00Z")
    [tokyo] = await due_webhooks(runtime, env.scope_id, RECAP)
    assert (tokyo["user"]["id"], tokyo["timestamp"], tokyo["recap"]) == (
        "tokyo",
        "2042-03-09T00:00:00Z",
        {"periodStart": "2042-03-02", "periodEnd": "2042-03-08"},
    )
    # New York is active again on Sunday before its recap: the new week gets one too.
    await event_at(env, "2042-03-09T12:30:00Z", "ny")
    await move_clock(env, "2042-03-09T12:59:59Z")  # 08:59:59 EDT
    assert len(await due_webhooks(runtime, env.scope_id, RECAP)) == 1
    await move_clock(env, "2042-03-09T13:00:00Z")
    recaps = await due_webhooks(runtime, env.scope_id, RECAP)
    assert [(p["user"]["id"], p["timestamp"], p["recap"]["periodStart"]) for p in recaps] == [
        ("tokyo", "2042-03-09T00:00:00Z", "2042-03-02"),
        ("ny", "2042-03-09T13:00:00Z", "2042-03-02"),
    ]
    # The next Sunday: only New York was active in the week just ended.
    await move_clock(env, "2042-03-17T00:00:00Z")
    later = await due_webhooks(runtime, env.scope_id, RECAP, "2042-03-10T00:00:00Z")
    assert [(p["user"]["id"], p["timestamp"], p["recap"]) for p in later] == [
        ("ny", "2042-03-16T13:00:00Z", {"periodStart": "2042-03-09", "periodEnd": "2042-03-15"})
    ]


async def test_monthly_recaps_follow_the_aggregation_period(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    response = await env.admin.patch("/settings", json={"aggregationPeriod": "monthly"})
    assert response.status_code == 200, response.json()
    await event_at(env, "2043-05-20T12:00:00Z", {"id": "tokyo", "tz": "Asia/Tokyo"})
    await move_clock(env, "2043-05-31T23:59:59Z")
    assert await due_webhooks(runtime, env.scope_id, RECAP) == []
    await move_clock(env, "2043-06-01T00:00:00Z")
    [recap] = await due_webhooks(runtime, env.scope_id, RECAP)
    assert recap["recap"] == {"periodStart": "2043-05-01", "periodEnd": "2043-05-31"}


async def test_streak_reminders_only_for_streaks_not_yet_extended(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    await configure(env, metrics=[{"key": "lessons", "threshold": 1}])  # daily
    tokyo = {"id": "tokyo", "tz": "Asia/Tokyo"}
    ny, keen = ({"id": name, "tz": "America/New_York"} for name in ("ny", "keen"))
    # Saturday 12 March 2044 (EST); New York moves to EDT on Sunday the 13th.
    await event_at(env, "2044-03-12T15:00:00Z", ny)  # 10:00 EST
    await event_at(env, "2044-03-12T15:00:00Z", keen)  # extends again on Sunday
    await event_at(env, "2044-03-12T15:00:00Z", tokyo)  # 00:00 on 13 March in Tokyo
    await event_at(env, "2044-03-12T15:00:00Z", "off")
    # Without `tz` a streak counts days in the scope's zone (UTC): so does its reminder.
    await event_at(env, "2044-03-12T15:00:00Z", "plain")
    response = await env.app.patch("/users/off/preferences", json={"streak": {"enabled": False}})
    assert response.status_code == 200, response.json()
    await event_at(env, "2044-03-13T14:00:00Z", keen)  # 10:00 EDT on Sunday

    async def reminded(plain: bool = False) -> list[tuple[str, str, int]]:
        payloads = await due_webhooks(runtime, env.scope_id, "emails.streak_reminder_due")
        return [
            (p["user"]["id"], p["timestamp"], p["streak"]["length"])
            for p in payloads
            if (p["user"]["id"] == "plain") == plain
        ]

    # Saturday 20:00 EST: every streak was extended that day. Tokyo's 20:00 on the 13th
    # (11:00Z): extended that day too. Sunday 20:00 EDT: New York was not.
    await move_clock(env, "2044-03-13T23:59:59Z")
    assert await reminded() == []
    await move_clock(env, "2044-03-14T00:00:00Z")
    assert await reminded() == [("ny", "2044-03-14T00:00:00Z", 1)]
    assert await reminded(plain=True) == [("plain", "2044-03-13T20:00:00Z", 1)]
    [payload] = [
        p
        for p in await due_webhooks(runtime, env.scope_id, "emails.streak_reminder_due")
        if p["user"]["id"] == "ny"
    ]
    assert payload["streak"]["extended"] == "2044-03-12T15:00:00Z"
    # Tokyo was not extended on the 14th: reminded at 20:00 JST.
    await move_clock(env, "2044-03-14T10:59:59Z")
    assert len(await reminded()) == 1
    await move_clock(env, "2044-03-14T11:00:00Z")
    assert (await reminded())[1:] == [("tokyo", "2044-03-14T11:00:00Z", 1)]
    # Monday 20:00 EDT: keen (length 2, not extended on Monday). New York's streak broke
    # at midnight: no reminder for a streak of 0.
    await move_clock(env, "2044-03-15T00:00:00Z")
    assert (await reminded())[2:] == [("keen", "2044-03-15T00:00:00Z", 2)]
    await move_clock(env, "2044-03-19T00:00:00Z")
    assert len(await reminded()) == 3
    assert "off" not in [user for user, _, _ in await reminded()]


async def test_achievement_messages_in_the_evening_window(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    metric = await env.metric("lessons")
    achievement = await define(
        env, name="First", trigger="metric", metricId=metric["id"], metricValue=1, status="active"
    )

    async def sent() -> list[tuple[str, str, str]]:
        return [
            (p["user"]["id"], p["timestamp"], p["achievement"]["achievedAt"])
            for p in await due_webhooks(runtime, env.scope_id, "emails.achievement_due")
        ]

    # 18:00 JST on Saturday 11 March 2045: inside the window, at once.
    await event_at(env, "2045-03-11T09:00:00Z", {"id": "tokyo", "tz": "Asia/Tokyo"})
    assert await sent() == [("tokyo", "2045-03-11T09:00:00Z", "2045-03-11T09:00:00Z")]
    # 10:00 EST: kept for 17:00 EST (22:00Z).
    await event_at(env, "2045-03-11T15:00:00Z", "ny")
    await move_clock(env, "2045-03-11T21:59:59Z")
    assert len(await sent()) == 1
    await move_clock(env, "2045-03-11T22:00:00Z")
    assert (await sent())[1] == ("ny", "2045-03-11T22:00:00Z", "2045-03-11T15:00:00Z")
    # 22:00 EST on Saturday: 17:00 the next day, which is in EDT (21:00Z).
    await event_at(env, "2045-03-12T03:00:00Z", "late")
    await move_clock(env, "2045-03-12T20:59:59Z")
    assert len(await sent()) == 2
    await move_clock(env, "2045-03-12T21:00:00Z")
    assert (await sent())[2] == ("late", "2045-03-12T21:00:00Z", "2045-03-12T03:00:00Z")
    payloads = await due_webhooks(runtime, env.scope_id, "emails.achievement_due")
    assert {p["achievement"]["id"] for p in payloads} == {achievement["id"]}


async def opted_out_users(env: TestEnvironment) -> None:
    """Users who must get no `emails.*_due` webhook at all."""
    await env.app.put("/users/unsubscribed", json={"subscribeToEmails": False})
    await env.app.put("/users/push-only", json={})
    none = {
        "achievement_completed": [],
        "recap": [],
        "reactivation": [],
        "streak_reminder": [],
    }
    await env.app.put("/users/opted-out", json={})
    await set_preferences(env, "opted-out", **none)
    push = {key: ["push"] for key in none}
    await set_preferences(env, "push-only", **push)
    response = await env.admin.patch("/settings", json={"experimentation": {"controlRatio": 100}})
    assert response.status_code == 200, response.json()
    await env.app.put("/users/control", json={})
    assert (await env.app.get("/users/control")).json()["control"] is True
    response = await env.admin.patch("/settings", json={"experimentation": {"controlRatio": 0}})
    assert response.status_code == 200, response.json()


async def test_opted_out_unsubscribed_and_control_users_get_none(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    metric = await env.metric("lessons")
    await configure(env, metrics=[{"key": "lessons", "threshold": 1}])
    await define(env, trigger="metric", metricId=metric["id"], metricValue=1, status="active")
    await move_clock(env, "2046-06-01T00:00:00Z")
    await opted_out_users(env)
    users = ["ok", "unsubscribed", "push-only", "opted-out", "control"]
    for user in users:  # Wednesday 6 June 2046: 20:00 EDT, in the achievement window
        await event_at(env, "2046-06-07T00:00:00Z", user)
    # Reminder on the 7th (20:00), reactivation on the 9th (17:00), recap on Sunday the 10th.
    await move_clock(env, "2046-06-11T12:00:00Z")
    kinds = sorted((p["type"], p["user"]["id"]) for p in await due_webhooks(runtime, env.scope_id))
    assert kinds == [
        ("emails.achievement_due", "ok"),
        ("emails.reactivation_due", "ok"),
        ("emails.recap_due", "ok"),
        ("emails.streak_reminder_due", "ok"),
    ]


async def test_a_backdated_completion_sends_no_message(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    metric = await env.metric("lessons")
    await move_clock(env, "2047-06-01T22:00:00Z")  # 18:00 EDT, inside the window
    await env.event("lessons", "early")
    # Activating an achievement the user already reached backdates it: no message.
    first = await define(
        env, trigger="metric", metricId=metric["id"], metricValue=1, status="active"
    )
    await move_clock(env, "2047-06-03T00:00:00Z")
    mine = (await env.app.get("/users/early/achievements")).json()
    assert [a["id"] for a in mine] == [first["id"]]
    assert await due_webhooks(runtime, env.scope_id, "emails.achievement_due") == []


async def test_weekly_streaks_are_reminded_on_friday_morning(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    await configure(env, frequency="weekly", metrics=[{"key": "lessons", "threshold": 1}])
    # Monday 4 May 2048 in Tokyo: the week is extended, so Friday the 8th brings nothing;
    # Friday the 15th at 09:00 JST (00:00Z) it is not extended yet.
    await event_at(env, "2048-05-04T03:00:00Z", {"id": "tokyo", "tz": "Asia/Tokyo"})
    await move_clock(env, "2048-05-14T23:59:59Z")
    assert await due_webhooks(runtime, env.scope_id, "emails.streak_reminder_due") == []
    await move_clock(env, "2048-05-15T00:00:00Z")
    [reminder] = await due_webhooks(runtime, env.scope_id, "emails.streak_reminder_due")
    assert (reminder["timestamp"], reminder["streak"]["frequency"]) == (
        "2048-05-15T00:00:00Z",
        "weekly",
    )


async def test_more_due_rows_than_a_chunk_all_go_out(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env, runtime = clock_env, clock_stack.runtime
    await listen(clock_stack, env, *KINDS)
    await env.metric("lessons")
    await move_clock(env, "2049-01-05T15:00:00Z")  # 10:00 EST
    users = [f"u{i:04d}" for i in range(sweep.CHUNK + 1)]
    for part in (users[:1000], users[1000:]):  # two batches: at most 1,000 events each
        async with runtime.db.transaction() as conn:
            config = await runtime.config.get(conn, env.scope_id)
            inputs = [
                pipeline.validate(
                    config,
                    metric_key="lessons",
                    user=UpsertedUser(id=user),
                    value=1,
                    attributes=None,
                    idempotency_key=None,
                )
                for user in part
            ]
            await pipeline.process(conn, config, inputs, utc("2049-01-05T15:00:00Z"))
    await move_clock(env, "2049-01-08T22:00:00Z")  # 17:00 EST three days later
    sent = await due_webhooks(runtime, env.scope_id, REACTIVATION)
    assert sorted(who(sent)) == users
    assert {p["timestamp"] for p in sent} == {"2049-01-08T22:00:00Z"}
