"""The worked timelines of streaks.md (A to F, and the traveller across the date line)
through Trophy's official Python SDK: every event, user update, read and admin call goes
through the SDK's typed client; only the test clock (our extension, absent from the SDK)
goes through the plain HTTP client. Webhooks are read from the outbox.

The SDK talks to the app in this process (see `in_process_sdk_client`), once per backend.
One clock serves the module and only moves forward: each test has a year of its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from trophy import (
    AdminIssue,
    AsyncTrophyApi,
    BatchMetricEvent,
    BatchMetricEventUser,
    BulkStreakResponseItem,
    CreateAchievementRequestItem,
    CreateMetricRequestItem,
    MetricEventStreakResponse,
    StreakMetricPreference,
    StreakPreferences,
    StreakResponse,
    StreakResponsePausesItem,
    StreakSettingsMetric,
    UpdateStreakSettingsFreezes,
    UpsertedUser,
)
from trophy.admin.streaks import (
    CreateStreakPausesRequestPausesItem,
    RestoreStreaksRequestUsersItem,
)

from plaudit.webhooks.tables import webhook_events
from tests.api.test_test_clock import move_clock
from tests.compat.sdk import in_process_sdk_client
from tests.conftest import Stack
from tests.streaks.support import listen_to_streaks, streak_webhooks
from tests.support.api import TestEnvironment


@pytest.fixture
async def sdk(clock_stack: Stack, clock_env: TestEnvironment) -> AsyncIterator[AsyncTrophyApi]:
    """The official client with the test environment's admin key (both APIs)."""
    async with in_process_sdk_client(clock_stack.app, clock_env.admin_key) as client:
        yield client


async def metrics(sdk: AsyncTrophyApi, *keys: str) -> None:
    created = await sdk.admin.metrics.create(
        request=[CreateMetricRequestItem(name=key.title(), key=key) for key in keys]
    )
    assert ([m.key for m in created.created], created.issues) == (list(keys), [])


async def configure(sdk: AsyncTrophyApi, **settings: Any) -> None:
    await sdk.admin.streaks.settings.update(**settings)


def words(threshold: float) -> list[StreakSettingsMetric]:
    return [StreakSettingsMetric(key="words", threshold=threshold)]


async def event_streak(
    sdk: AsyncTrophyApi, metric: str, user: str | UpsertedUser, value: float = 1
) -> MetricEventStreakResponse:
    sent = UpsertedUser(id=user) if isinstance(user, str) else user
    response = await sdk.metrics.with_raw_response.event(metric, user=sent, value=value)
    assert response.status_code == 201
    streak = response.data.current_streak
    assert streak is not None
    return streak


async def read(sdk: AsyncTrophyApi, user_id: str, periods: int | None = None) -> StreakResponse:
    return await sdk.users.streak(user_id, history_periods=periods)


def brief(streak: MetricEventStreakResponse | StreakResponse) -> tuple[Any, ...]:
    return (
        streak.length,
        streak.started,
        streak.period_start,
        streak.period_end,
        streak.expires,
        streak.extended,
    )


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_daily_start_extend_lose_and_start_again(
    clock_env: TestEnvironment, clock_stack: Stack, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2131-04-01T12:00:00Z")
    await metrics(sdk, "words")
    await configure(sdk, metrics=words(1))
    london = UpsertedUser(id="ada", tz="Europe/London")  # BST (UTC+1) in April

    await move_clock(env, "2131-04-02T08:00:00Z")  # 09:00 local
    first = await event_streak(sdk, "words", london)
    assert brief(first) == (1, "2131-04-02", "2131-04-02", "2131-04-02", "2131-04-03", True)
    assert first.frequency == "daily"
    assert "freezes" not in first.model_fields_set  # freezes are off: the key is absent
    await move_clock(env, "2131-04-02T17:00:00Z")
    assert brief(await event_streak(sdk, "words", london, 3))[0::5] == (1, False)
    await move_clock(env, "2131-04-03T06:30:00Z")  # 07:30 local
    second = await event_streak(sdk, "words", london)
    assert brief(second) == (2, "2131-04-02", "2131-04-03", "2131-04-03", "2131-04-04", True)

    await move_clock(env, "2131-04-04T22:59:59Z")  # 4 April passes without activity
    assert (await read(sdk, "ada")).length == 2
    await move_clock(env, "2131-04-04T23:00:00Z")  # local midnight: the sweep
    lost = await read(sdk, "ada")
    assert (lost.length, lost.started, lost.expires, lost.extended) == (0, None, None, None)
    sent = await streak_webhooks(clock_stack.runtime, env.scope_id)
    assert [(kind, p.get("length")) for kind, p in sent] == [
        ("streak.started", None),
        ("streak.extended", None),
        ("streak.lost", 2),
    ]
    assert sent[1][1]["streak"]["length"] == 2
    assert sent[1][1]["user"]["id"] == "ada"

    await move_clock(env, "2131-04-05T09:00:00Z")  # 10:00 local
    again = await event_streak(sdk, "words", london)
    assert brief(again) == (1, "2131-04-05", "2131-04-05", "2131-04-05", "2131-04-06", True)
    await move_clock(env, "2131-04-05T10:00:00Z")
    shown = await read(sdk, "ada", 4)
    assert [
        (h.period_start, h.length, h.used_freeze, h.used_pause, h.reset_at)
        for h in shown.streak_history
    ] == [
        ("2131-04-02", 1, False, False, None),
        ("2131-04-03", 2, False, False, None),
        ("2131-04-04", 0, False, False, None),
        ("2131-04-05", 1, False, False, None),
    ]
    assert shown.extended == utc("2131-04-05T09:00:00Z")
    assert shown.pauses == []


async def test_b_daily_with_freezes_consumed_at_midnight_and_earned_every_seven_days(
    clock_env: TestEnvironment, clock_stack: Stack, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2132-04-01T12:00:00Z")
    await metrics(sdk, "words")
    await configure(
        sdk,
        metrics=words(1),
        freezes=UpdateStreakSettingsFreezes(
            start_count=1, max_count=3, auto_earn_interval=7, auto_earn_amount=1
        ),
    )
    london = UpsertedUser(id="bo", tz="Europe/London")
    await move_clock(env, "2132-04-02T08:00:00Z")
    first = await event_streak(sdk, "words", london)
    assert (first.length, first.freezes, first.max_freezes) == (1, 1, 3)
    assert (first.freeze_auto_earn_interval, first.freeze_auto_earn_amount) == (7, 1)
    await move_clock(env, "2132-04-03T06:30:00Z")
    assert (await event_streak(sdk, "words", london)).length == 2

    await move_clock(env, "2132-04-04T23:00:00Z")  # midnight after the missed 4 April
    kept = await read(sdk, "bo", 3)
    assert (kept.length, kept.freezes, kept.period_start, kept.expires) == (
        2,
        0,
        "2132-04-04",
        "2132-04-05",
    )
    assert [(h.period_start, h.length, h.used_freeze) for h in kept.streak_history] == [
        ("2132-04-03", 2, False),
        ("2132-04-04", 2, True),
        ("2132-04-05", 2, False),
    ]
    await move_clock(env, "2132-04-05T09:00:00Z")
    third = await event_streak(sdk, "words", london)
    assert (third.length, third.freezes, third.extended) == (3, 0, True)

    for day in ("06", "07", "08"):
        await move_clock(env, f"2132-04-{day}T09:00:00Z")
        await event_streak(sdk, "words", london)
    await move_clock(env, "2132-04-08T23:10:00Z")  # 9 April, 00:10 local: 7 days after creation
    earned = await read(sdk, "bo")
    assert (earned.length, earned.freezes) == (6, 1)
    sent = [
        (kind, {k: v for k, v in p.items() if k in ("consumed", "earned", "freezes")})
        for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)
        if kind.startswith("streak.freeze")
    ]
    assert sent == [
        ("streak.freeze_consumed", {"consumed": 1, "freezes": 0}),
        ("streak.freeze_earned", {"earned": 1, "freezes": 1}),
    ]


async def test_c_weekly_streaks_follow_sunday_weeks_in_the_users_zone(
    clock_env: TestEnvironment, clock_stack: Stack, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    # 2 April 2138 is a Wednesday; New York is on EDT (UTC-4).
    await move_clock(env, "2138-04-01T12:00:00Z")
    await metrics(sdk, "words")
    await configure(sdk, frequency="weekly", metrics=words(1))
    ny = UpsertedUser(id="cy", tz="America/New_York")
    await move_clock(env, "2138-04-02T16:00:00Z")
    first = await event_streak(sdk, "words", ny)
    assert brief(first) == (1, "2138-04-02", "2138-03-30", "2138-04-05", "2138-04-12", True)
    assert first.frequency == "weekly"
    await move_clock(env, "2138-04-04T16:00:00Z")
    assert brief(await event_streak(sdk, "words", ny))[0::5] == (1, False)
    await move_clock(env, "2138-04-08T16:00:00Z")
    second = await event_streak(sdk, "words", ny)
    assert brief(second) == (2, "2138-04-02", "2138-04-06", "2138-04-12", "2138-04-19", True)
    await move_clock(env, "2138-04-20T03:59:59Z")  # Saturday 19 April, 23:59:59 local
    assert (await read(sdk, "cy")).length == 2
    await move_clock(env, "2138-04-20T04:00:00Z")  # Sunday 00:00 local: the week ended
    assert (await read(sdk, "cy")).length == 0
    lost = [p for kind, p in await streak_webhooks(clock_stack.runtime, env.scope_id)]
    assert lost[-1] == {**lost[-1], "type": "streak.lost", "length": 2}


async def test_d_and_or_evaluation_and_a_personalized_user(
    clock_env: TestEnvironment, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await move_clock(env, "2139-05-01T12:00:00Z")
    await metrics(sdk, "words", "lessons")
    await configure(
        sdk,
        evaluation_mode="AND",
        customization_enabled=True,
        metrics=[*words(500), StreakSettingsMetric(key="lessons", threshold=1)],
    )
    both, either, own = "and-user", "or-user", "own-user"
    for user in (both, either, own):
        assert (await sdk.users.identify(user, tz="UTC")).tz == "UTC"
    await move_clock(env, "2139-05-02T10:00:00Z")
    assert (await event_streak(sdk, "words", both, 300)).extended is False
    assert (await event_streak(sdk, "lessons", both, 1)).extended is False
    assert (await event_streak(sdk, "words", both, 250)).extended is True

    await configure(sdk, evaluation_mode="OR")
    assert (await event_streak(sdk, "words", either, 300)).extended is False
    assert (await event_streak(sdk, "lessons", either, 1)).extended is True
    assert (await event_streak(sdk, "words", either, 250)).extended is False  # once a day

    mine = StreakPreferences(
        evaluation_mode="OR", metrics=[StreakMetricPreference(key="words", threshold=200)]
    )
    updated = await sdk.users.update_preferences(own, streak=mine)
    assert updated.streak is not None
    assert updated.streak.metrics == mine.metrics
    assert (await event_streak(sdk, "lessons", own, 1)).extended is False  # not theirs
    assert (await event_streak(sdk, "words", own, 300)).extended is True


async def test_a_traveller_across_the_date_line_keeps_the_streak_and_counts_no_day_twice(
    clock_env: TestEnvironment, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await move_clock(env, "2140-06-01T00:00:00Z")
    await metrics(sdk, "words")
    await configure(sdk, metrics=words(1))
    kiritimati = UpsertedUser(id="dee", tz="Pacific/Kiritimati")  # UTC+14
    honolulu = UpsertedUser(id="dee", tz="Pacific/Honolulu")  # UTC-10

    await move_clock(env, "2140-06-03T20:00:00Z")  # 4 June, 10:00 in Kiritimati
    assert brief(await event_streak(sdk, "words", kiritimati))[:3] == (
        1,
        "2140-06-04",
        "2140-06-04",
    )
    # Flies west: in Honolulu it is 3 June again. That date is not a new period.
    await move_clock(env, "2140-06-04T06:00:00Z")
    again = await event_streak(sdk, "words", honolulu)
    assert (again.length, again.period_start, again.extended) == (1, "2140-06-04", False)
    await move_clock(env, "2140-06-05T12:00:00Z")  # 5 June, 02:00 in Honolulu
    assert brief(await event_streak(sdk, "words", honolulu))[0::5] == (2, True)
    await move_clock(env, "2140-06-06T11:00:00Z")  # 6 June, 01:00 in Honolulu
    assert brief(await event_streak(sdk, "words", honolulu))[0::5] == (3, True)
    # Flies back east: 7 June, 02:00 in Kiritimati. The streak goes on.
    await move_clock(env, "2140-06-06T12:00:00Z")
    back = await event_streak(sdk, "words", kiritimati)
    assert (back.length, back.period_start, back.extended) == (4, "2140-06-07", True)
    shown = await read(sdk, "dee", 5)
    assert [(h.period_start, h.length) for h in shown.streak_history] == [
        ("2140-06-03", 0),
        ("2140-06-04", 1),
        ("2140-06-05", 2),
        ("2140-06-06", 3),
        ("2140-06-07", 4),
    ]


async def test_streaks_off_answer_length_zero_and_batches_count_once_per_day(
    clock_env: TestEnvironment, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await move_clock(env, "2141-01-10T12:00:00Z")
    await metrics(sdk, "words")
    off = await event_streak(sdk, "words", "eve")
    assert brief(off) == (0, None, None, None, None, False)
    await configure(sdk, metrics=words(2))
    batch = [
        BatchMetricEvent(key="words", user=BatchMetricEventUser(id="eve"), value=1)
        for _ in range(5)
    ]
    accepted = await sdk.admin.metrics.with_raw_response.batch_events(request=batch)
    assert accepted.status_code == 202
    for _ in range(100):
        shown = await read(sdk, "eve")
        if shown.length:
            break
        await move_clock(env, "2141-01-10T12:00:00Z")  # runs the queued batch job
    assert (shown.length, shown.period_start) == (1, "2141-01-10")
    assert await sdk.streaks.list(user_ids=["nobody", "eve"]) == [
        BulkStreakResponseItem(user_id="eve", streak_length=1, extended="2141-01-10T12:00:00Z"),
        BulkStreakResponseItem(user_id="nobody", streak_length=0, extended=None),
    ]


async def daily_streak(
    sdk: AsyncTrophyApi, env: TestEnvironment, user: str, first: str, days: int
) -> None:
    """Events at 10:00 London time on `days` consecutive days from `first` (YYYY-MM-DD)."""
    start = dt.date.fromisoformat(first)
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        await move_clock(env, f"{day.isoformat()}T09:00:00Z")
        await event_streak(sdk, "words", UpsertedUser(id=user, tz="Europe/London"))


def issues(found: list[AdminIssue]) -> list[tuple[str | None, str, str]]:
    return [(i.user_id or i.id, str(i.severity), i.message) for i in found]


async def test_e_a_pause_keeps_the_streak_without_a_freeze(
    clock_env: TestEnvironment, clock_stack: Stack, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    await move_clock(env, "2142-04-01T12:00:00Z")
    await metrics(sdk, "words")
    await configure(
        sdk, metrics=words(1), freezes=UpdateStreakSettingsFreezes(start_count=1, max_count=3)
    )
    await daily_streak(sdk, env, "ed", "2142-04-05", 1)  # the admin pauses on 5 April
    created = await sdk.admin.streaks.pauses.with_raw_response.create(
        pauses=[
            CreateStreakPausesRequestPausesItem(user_id="ed", start="2142-04-10", end="2142-04-12")
        ]
    )
    assert created.status_code == 201
    [pause] = created.data.created
    assert (pause.user_id, pause.start, pause.end, pause.status) == (
        "ed",
        "2142-04-10",
        "2142-04-12",
        "active",
    )
    assert str(uuid.UUID(pause.id)) == pause.id
    assert created.data.issues == []
    await daily_streak(sdk, env, "ed", "2142-04-06", 4)  # length 5 with P = Wed 9 April

    await move_clock(env, "2142-04-09T19:00:00Z")  # 9 April, evening
    evening = await read(sdk, "ed")
    assert (evening.length, evening.period_start, evening.expires) == (
        5,
        "2142-04-09",
        "2142-04-13",
    )
    assert evening.pauses == [
        StreakResponsePausesItem(id=pause.id, start="2142-04-10", end="2142-04-12")
    ]
    kinds = [kind for kind, _ in await streak_webhooks(clock_stack.runtime, env.scope_id)]
    assert kinds == ["streak.started"] + ["streak.extended"] * 4

    await move_clock(env, "2142-04-12T23:00:00Z")  # 13 April, 00:00 local: three sweeps later
    paused = await read(sdk, "ed", 4)
    assert (paused.length, paused.period_start, paused.expires, paused.freezes) == (
        5,
        "2142-04-12",
        "2142-04-13",
        1,
    )
    assert [
        (h.period_start, h.length, h.used_pause, h.used_freeze) for h in paused.streak_history
    ] == [
        ("2142-04-10", 5, True, False),
        ("2142-04-11", 5, True, False),
        ("2142-04-12", 5, True, False),
        ("2142-04-13", 5, False, False),
    ]
    assert paused.pauses == []  # over

    await move_clock(env, "2142-04-13T07:00:00Z")  # 08:00 local
    extended = await event_streak(sdk, "words", "ed")
    assert (extended.length, extended.period_start, extended.expires, extended.extended) == (
        6,
        "2142-04-13",
        "2142-04-14",
        True,
    )
    # Since the evening of 9 April: no freeze used, nothing lost, one extension.
    since = await streak_webhooks(clock_stack.runtime, env.scope_id, "2142-04-09T19:00:00Z")
    assert [kind for kind, _ in since] == ["streak.extended"]


async def test_f_restore_to_the_longest_streak_in_the_window(
    clock_env: TestEnvironment, clock_stack: Stack, sdk: AsyncTrophyApi
) -> None:
    env = clock_env
    await listen_to_streaks(clock_stack, env)
    runtime = clock_stack.runtime
    await move_clock(env, "2143-03-20T12:00:00Z")
    await metrics(sdk, "words")
    await configure(sdk, metrics=words(1))
    await daily_streak(sdk, env, "u1", "2143-03-26", 12)  # 26 March … 6 April: length 12
    await move_clock(env, "2143-04-07T23:00:00Z")  # 8 April 00:00 local: 7 April missed
    assert (await read(sdk, "u1")).length == 0
    # A streak achievement defined after the loss: the restore completes it, silently.
    defined = await sdk.admin.achievements.create(
        request=[
            CreateAchievementRequestItem(
                name="Twelve", trigger="streak", streak_length=12, status="active"
            )
        ]
    )
    assert defined.issues == []

    await move_clock(env, "2143-04-08T14:00:00Z")  # 15:00 local
    restored = await sdk.admin.streaks.with_raw_response.restore(
        users=[RestoreStreaksRequestUsersItem(id="u1"), RestoreStreaksRequestUsersItem(id="nobody")]
    )
    assert restored.status_code == 201
    assert restored.data.restored_users == ["u1"]
    assert issues(restored.data.issues) == [("nobody", "error", "User does not exist")]
    shown = await read(sdk, "u1", 3)
    assert (shown.length, shown.started, shown.period_start, shown.expires) == (
        12,
        "2143-03-26",
        "2143-04-07",
        "2143-04-08",
    )
    assert [(h.period_start, h.length) for h in shown.streak_history] == [
        ("2143-04-06", 12),
        ("2143-04-07", 12),
        ("2143-04-08", 12),
    ]
    assert await streak_webhooks(runtime, env.scope_id, "2143-04-08T14:00:00Z") == []  # silent
    progress = await sdk.users.achievements("u1")
    assert [(a.name, a.achieved_at) for a in progress] == [("Twelve", utc("2143-04-08T14:00:00Z"))]
    async with runtime.db.transaction(write=False) as conn:
        announced = await conn.scalar(
            select(webhook_events.c.id).where(
                webhook_events.c.scope_id == env.scope_id,
                webhook_events.c.type == "achievement.completed",
            )
        )
    assert announced is None

    await move_clock(env, "2143-04-08T15:00:00Z")
    after = await event_streak(sdk, "words", "u1")
    assert (after.length, after.extended) == (13, True)
    twice = await sdk.admin.streaks.with_raw_response.restore(
        users=[RestoreStreaksRequestUsersItem(id="u1")]
    )
    assert twice.status_code == 200
    assert (twice.data.restored_users, issues(twice.data.issues)) == (
        [],
        [("u1", "warning", "No streak to restore")],
    )
