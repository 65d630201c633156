"""Pure rules of streaks: the worked examples of streaks.md, edge cases of calendars and time
zones, and properties checked against a small independent model."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.streaks import rules
from plaudit.streaks.rules import (
    Condition,
    FreezeConsumed,
    FreezeEarned,
    FreezeSettings,
    HistoryEntry,
    Pause,
    Period,
    Step,
    StreakExtended,
    StreakLost,
    StreakSettings,
    StreakStarted,
    StreakState,
)

M = 1_000_000  # metric values are millionths
LONDON = "Europe/London"
D = dt.date
DAILY = StreakSettings("daily", (Condition("words", M),))


def at(tz: str, text: str) -> dt.datetime:
    """A local wall-clock time in `tz`, as a UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def day(value: dt.date) -> Period:
    return Period(value, value)


def event(
    state: StreakState,
    when: dt.datetime,
    value: int = 1,
    metric: str = "words",
    config: StreakSettings = DAILY,
) -> Step:
    return rules.on_event(state, config, metric, value * M, when)


def run_days(
    state: StreakState, config: StreakSettings, tz: str, first: dt.date, last: dt.date
) -> StreakState:
    """One qualifying event at 12:00 local on every date from first to last."""
    current = first
    while current <= last:
        state = event(state, at(tz, f"{current}T12:00"), config=config).state
        current += dt.timedelta(days=1)
    return state


# --- worked examples (streaks.md §11) ----------------------------------------------------


def test_example_a_start_extend_lose() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))

    t = at(LONDON, "2025-04-02T09:00")
    step = event(s, t)
    assert step.extended
    assert step.effects == (StreakStarted(day(D(2025, 4, 2)), 1, t),)
    v = rules.view(step.state, DAILY, t)
    assert (v.length, v.started, v.period_start, v.period_end, v.expires) == (
        1,
        D(2025, 4, 2),
        D(2025, 4, 2),
        D(2025, 4, 2),
        D(2025, 4, 3),
    )
    assert v.extended_at == t
    assert v.freezes is None  # freezes disabled: the field is omitted

    step = event(step.state, at(LONDON, "2025-04-02T18:00"), 3)
    assert not step.extended
    assert step.effects == ()

    t = at(LONDON, "2025-04-03T07:30")
    step = event(step.state, t)
    assert step.effects == (StreakExtended(day(D(2025, 4, 3)), 2, t),)
    assert rules.view(step.state, DAILY, t).expires == D(2025, 4, 4)
    # The day after an extension cannot be missed yet: the sweep is due when 04-04 ends.
    assert rules.next_due(step.state, DAILY, t) == at(LONDON, "2025-04-05T00:00")

    friday = rules.view(step.state, DAILY, at(LONDON, "2025-04-04T20:00"))
    assert (friday.length, friday.expires) == (2, D(2025, 4, 4))

    sweep = rules.catch_up(step.state, DAILY, at(LONDON, "2025-04-05T00:00"))
    assert sweep.effects == (StreakLost(day(D(2025, 4, 4)), 2),)
    lost = rules.view(sweep.state, DAILY, at(LONDON, "2025-04-05T00:00"))
    assert (lost.length, lost.started, lost.period_start, lost.expires) == (0, None, None, None)
    assert rules.next_due(sweep.state, DAILY, at(LONDON, "2025-04-05T00:00")) is None

    t = at(LONDON, "2025-04-05T10:00")
    step = event(sweep.state, t)
    assert step.effects == (StreakStarted(day(D(2025, 4, 5)), 1, t),)
    assert rules.view(step.state, DAILY, t).expires == D(2025, 4, 6)

    hist = rules.history(step.state, DAILY, 4, at(LONDON, "2025-04-05T11:00"))
    assert [(h.period.start, h.length, h.used_pause, h.used_freeze) for h in hist] == [
        (D(2025, 4, 2), 1, False, False),
        (D(2025, 4, 3), 2, False, False),
        (D(2025, 4, 4), 0, False, False),
        (D(2025, 4, 5), 1, False, False),
    ]


def test_example_b_freezes() -> None:
    config = replace(DAILY, freezes=FreezeSettings(1, 3, 7, 1))
    s = rules.new_state(config, LONDON, at(LONDON, "2025-04-02T08:00"))
    assert s.freezes == 1
    s = run_days(s, config, LONDON, D(2025, 4, 2), D(2025, 4, 3))

    midnight = at(LONDON, "2025-04-05T00:00")
    assert rules.next_due(s, config, at(LONDON, "2025-04-03T13:00")) == midnight
    sweep = rules.catch_up(s, config, midnight)
    assert sweep.effects == (FreezeConsumed(day(D(2025, 4, 4)), 0),)
    v = rules.view(sweep.state, config, midnight)
    assert (v.length, v.freezes, v.period_start, v.expires) == (2, 0, D(2025, 4, 4), D(2025, 4, 5))
    assert (v.max_freezes, v.freeze_auto_earn_interval, v.freeze_auto_earn_amount) == (3, 7, 1)

    t = at(LONDON, "2025-04-05T10:00")
    step = event(sweep.state, t, config=config)
    assert step.effects == (StreakExtended(day(D(2025, 4, 5)), 3, t),)

    s = run_days(step.state, config, LONDON, D(2025, 4, 6), D(2025, 4, 8))
    assert rules.next_due(s, config, at(LONDON, "2025-04-08T13:00")) == at(
        LONDON, "2025-04-09T00:00"
    )
    earn = rules.catch_up(s, config, at(LONDON, "2025-04-09T00:05"))
    assert earn.effects == (FreezeEarned(D(2025, 4, 9), 1, 1),)
    assert earn.state.length == 6

    hist = rules.history(earn.state, config, 8, at(LONDON, "2025-04-09T00:05"))
    frozen = next(h for h in hist if h.period.start == D(2025, 4, 4))
    assert (frozen.length, frozen.used_freeze, frozen.used_pause) == (2, True, False)


def test_example_c_weekly() -> None:
    ny = "America/New_York"
    config = StreakSettings("weekly", (Condition("words", M),))
    s = rules.new_state(config, ny, at(ny, "2025-04-01T08:00"))

    t = at(ny, "2025-04-02T10:00")
    step = event(s, t, config=config)
    week = Period(D(2025, 3, 30), D(2025, 4, 5))
    assert step.effects == (StreakStarted(week, 1, t),)
    v = rules.view(step.state, config, t)
    assert (v.started, v.period_start, v.period_end, v.expires) == (
        D(2025, 4, 2),
        D(2025, 3, 30),
        D(2025, 4, 5),
        D(2025, 4, 12),
    )
    step = event(step.state, at(ny, "2025-04-04T10:00"), config=config)
    assert not step.extended

    t = at(ny, "2025-04-08T10:00")
    step = event(step.state, t, config=config)
    assert step.effects == (StreakExtended(Period(D(2025, 4, 6), D(2025, 4, 12)), 2, t),)
    assert rules.view(step.state, config, t).expires == D(2025, 4, 19)
    assert rules.view(step.state, config, at(ny, "2025-04-19T23:59")).length == 2

    sunday = at(ny, "2025-04-20T00:00")
    assert rules.next_due(step.state, config, t) == sunday
    sweep = rules.catch_up(step.state, config, sunday)
    assert sweep.effects == (StreakLost(Period(D(2025, 4, 13), D(2025, 4, 19)), 2),)
    assert rules.view(sweep.state, config, sunday).length == 0


def test_example_d_all_versus_or() -> None:
    conditions = (Condition("words", 500 * M), Condition("lessons", M))
    results = {}
    for mode in ("AND", "OR"):
        config = StreakSettings("daily", conditions, mode=rules.normalize_mode(mode))
        s = rules.new_state(config, LONDON, at(LONDON, "2025-04-01T08:00"))
        flags = []
        for hour, metric, value in ((10, "words", 300), (11, "lessons", 1), (12, "words", 250)):
            step = event(s, at(LONDON, f"2025-04-02T{hour}:00"), value, metric, config)
            flags.append(step.extended)
            s = step.state
        results[mode] = flags
    assert results == {"AND": [False, False, True], "OR": [False, True, False]}
    assert rules.normalize_mode("ALL") == "AND"

    org = StreakSettings("daily", conditions, mode="AND")
    mine = rules.personalize(
        org,
        customization_enabled=True,
        evaluation_mode="OR",
        metrics=[Condition("words", 200 * M)],
    )
    s = rules.new_state(mine, LONDON, at(LONDON, "2025-04-01T08:00"))
    assert event(s, at(LONDON, "2025-04-02T10:00"), 300, "words", mine).extended
    assert not event(s, at(LONDON, "2025-04-02T10:00"), 5, "lessons", mine).extended
    # Without customization only `enabled` may differ from the scope.
    assert rules.personalize(org, customization_enabled=False, evaluation_mode="OR") == org


def test_example_e_pause() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-04T08:00"))
    s = run_days(s, DAILY, LONDON, D(2025, 4, 5), D(2025, 4, 6))
    created = at(LONDON, "2025-04-05T15:00")
    assert rules.pause_problem(s, D(2025, 4, 10), D(2025, 4, 12), created) is None
    s = rules.add_pause(s, Pause("p1", D(2025, 4, 10), D(2025, 4, 12)))
    s = run_days(s, DAILY, LONDON, D(2025, 4, 7), D(2025, 4, 9))

    evening = at(LONDON, "2025-04-09T20:00")
    v = rules.view(s, DAILY, evening)
    assert (v.length, v.period_start, v.expires) == (5, D(2025, 4, 9), D(2025, 4, 13))
    assert rules.visible_pauses(s, evening) == (Pause("p1", D(2025, 4, 10), D(2025, 4, 12)),)

    for sweep_day, covered in ((11, 10), (12, 11), (13, 12)):
        step = rules.catch_up(s, DAILY, at(LONDON, f"2025-04-{sweep_day}T00:00"))
        assert step.effects == ()
        s = step.state
        v = rules.view(s, DAILY, at(LONDON, f"2025-04-{sweep_day}T00:00"))
        assert (v.length, v.period_start, v.expires) == (5, D(2025, 4, covered), D(2025, 4, 13))

    t = at(LONDON, "2025-04-13T08:00")
    step = event(s, t)
    assert step.effects == (StreakExtended(day(D(2025, 4, 13)), 6, t),)
    hist = rules.history(step.state, DAILY, 5, t)
    assert [(h.length, h.used_pause, h.used_freeze) for h in hist] == [
        (5, False, False),
        (5, True, False),
        (5, True, False),
        (5, True, False),
        (6, False, False),
    ]
    assert rules.visible_pauses(step.state, t) == ()


def test_activity_during_a_pause_is_a_normal_extension() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-04T08:00"))
    s = rules.add_pause(s, Pause("p1", D(2025, 4, 10), D(2025, 4, 12)))
    s = run_days(s, DAILY, LONDON, D(2025, 4, 5), D(2025, 4, 9))
    t = at(LONDON, "2025-04-11T09:00")
    step = event(s, t)
    assert step.effects == (StreakExtended(day(D(2025, 4, 11)), 6, t),)
    hist = rules.history(step.state, DAILY, 2, t)
    assert [(h.length, h.used_pause) for h in hist] == [(5, True), (6, False)]


def test_example_f_restore() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-03-20T08:00"))
    s = run_days(s, DAILY, LONDON, D(2025, 3, 26), D(2025, 4, 6))
    assert s.length == 12
    lost = rules.catch_up(s, DAILY, at(LONDON, "2025-04-08T00:00"))
    assert lost.effects == (StreakLost(day(D(2025, 4, 7)), 12),)

    t = at(LONDON, "2025-04-08T15:00")
    assert rules.restorable_length(lost.state, DAILY, t) == 12
    restored = rules.restore(lost.state, DAILY, t)
    assert restored is not None
    assert restored.effects == ()
    v = rules.view(restored.state, DAILY, t)
    assert (v.length, v.started, v.period_start, v.expires) == (
        12,
        D(2025, 3, 26),
        D(2025, 4, 7),
        D(2025, 4, 8),
    )
    assert rules.restore(restored.state, DAILY, t) is None  # "No streak to restore"

    step = event(restored.state, at(LONDON, "2025-04-08T16:00"))
    assert step.effects == (StreakExtended(day(D(2025, 4, 8)), 13, at(LONDON, "2025-04-08T16:00")),)
    assert rules.restore(step.state, DAILY, at(LONDON, "2025-04-08T17:00")) is None


def test_restore_counts_an_already_met_period_on_top() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-03-20T08:00"))
    s = run_days(s, DAILY, LONDON, D(2025, 3, 26), D(2025, 4, 6))
    s = event(s, at(LONDON, "2025-04-08T09:00")).state  # loses 12, starts 1
    assert s.length == 1
    restored = rules.restore(s, DAILY, at(LONDON, "2025-04-08T15:00"))
    assert restored is not None
    v = rules.view(restored.state, DAILY, at(LONDON, "2025-04-08T15:00"))
    assert (v.length, v.period_start, v.started) == (13, D(2025, 4, 8), D(2025, 3, 26))


def test_restore_windows() -> None:
    assert rules.restore_window_start(D(2025, 4, 8), "daily") == D(2025, 1, 9)
    # Weekly: from the week containing 1 January (2025-01-01 is a Wednesday).
    assert rules.restore_window_start(D(2025, 4, 8), "weekly") == D(2024, 12, 29)
    assert rules.restore_window_start(D(2025, 4, 8), "weekly", 1) == D(2024, 12, 30)
    assert rules.restore_window_start(D(2025, 4, 8), "monthly") == D(2024, 1, 1)

    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-01-01T08:00"))
    s = run_days(s, DAILY, LONDON, D(2025, 1, 2), D(2025, 1, 6))
    later = at(LONDON, "2025-04-06T12:00")  # the streak ended 2025-01-06, 91 dates ago
    assert rules.restorable_length(s, DAILY, at(LONDON, "2025-04-05T12:00")) == 5
    assert rules.restorable_length(s, DAILY, later) == 0
    assert rules.restore(s, DAILY, later) is None


def test_reset_stamps_the_period_and_restore_brings_it_back() -> None:
    config = replace(DAILY, freezes=FreezeSettings(2, 5))
    s = rules.new_state(config, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = rules.add_pause(s, Pause("p", D(2025, 5, 1), D(2025, 5, 2)))
    s = run_days(s, config, LONDON, D(2025, 4, 2), D(2025, 4, 5))
    t = at(LONDON, "2025-04-06T10:00")
    done = rules.reset(s, config, t)
    assert done is not None
    assert done.effects == ()  # no streak.lost for an admin reset
    assert (done.state.length, done.state.freezes, len(done.state.pauses)) == (0, 2, 1)
    assert rules.reset(done.state, config, t) is None
    hist = rules.history(done.state, config, 2, t)
    assert hist[-1] == HistoryEntry(day(D(2025, 4, 6)), 0, reset_at=t)

    again = event(done.state, at(LONDON, "2025-04-06T11:00"), config=config)
    assert again.effects == (StreakStarted(day(D(2025, 4, 6)), 1, at(LONDON, "2025-04-06T11:00")),)
    last = rules.history(again.state, config, 1, at(LONDON, "2025-04-06T11:00"))[0]
    assert (last.length, last.reset_at) == (1, t)

    restored = rules.restore(again.state, config, at(LONDON, "2025-04-06T12:00"))
    assert restored is not None
    assert restored.state.length == 5  # 4 before the reset, and today on top


def test_a_streak_reset_after_counting_today_comes_back_without_counting_today_twice() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = run_days(s, DAILY, LONDON, D(2025, 4, 2), D(2025, 4, 4))  # extended today, 4 April
    assert s.length == 3
    done = rules.reset(s, DAILY, at(LONDON, "2025-04-04T20:00"))
    assert done is not None
    back = rules.restore(done.state, DAILY, at(LONDON, "2025-04-04T21:00"))
    assert back is not None
    assert (back.state.length, back.state.covered) == (3, day(D(2025, 4, 4)))
    later = event(back.state, at(LONDON, "2025-04-04T22:00"))
    assert (later.state.length, later.extended) == (3, False)  # today already counts
    tomorrow = event(later.state, at(LONDON, "2025-04-05T09:00"))
    assert (tomorrow.state.length, tomorrow.extended) == (4, True)

    # Reset, a new start the same day, then restore: still one count for today.
    again = rules.reset(s, DAILY, at(LONDON, "2025-04-04T20:00"))
    assert again is not None
    restarted = event(again.state, at(LONDON, "2025-04-04T20:30"))
    assert restarted.state.length == 1
    restored = rules.restore(restarted.state, DAILY, at(LONDON, "2025-04-04T21:00"))
    assert restored is not None
    assert restored.state.length == 3


def test_days_off_never_break_and_may_extend() -> None:
    # Saturday (6) and Sunday (0) off; 2025-04-04 is a Friday.
    config = replace(DAILY, days_off=frozenset({0, 6}))
    s = rules.new_state(config, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = run_days(s, config, LONDON, D(2025, 4, 3), D(2025, 4, 4))
    friday = at(LONDON, "2025-04-04T13:00")
    assert rules.view(s, config, friday).expires == D(2025, 4, 7)  # skips the weekend

    monday = at(LONDON, "2025-04-07T09:00")
    step = event(s, monday, config=config)
    assert step.effects == (StreakExtended(day(D(2025, 4, 7)), 3, monday),)
    hist = rules.history(step.state, config, 5, monday)
    assert [(h.length, h.used_pause) for h in hist] == [
        (1, False),
        (2, False),
        (2, True),
        (2, True),
        (3, False),
    ]

    saturday = at(LONDON, "2025-04-12T09:00")
    step = event(run_days(step.state, config, LONDON, D(2025, 4, 8), D(2025, 4, 11)), saturday)
    assert step.effects == (StreakExtended(day(D(2025, 4, 12)), 8, saturday),)

    weekly = StreakSettings("weekly", DAILY.conditions, days_off=frozenset({0, 6}))
    assert not rules.is_day_off(Period(D(2025, 4, 6), D(2025, 4, 12)), weekly)


def test_pauses_take_precedence_over_freezes_and_days_off() -> None:
    config = replace(DAILY, freezes=FreezeSettings(3, 3), days_off=frozenset({0}))
    s = rules.new_state(config, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = rules.add_pause(s, Pause("p", D(2025, 4, 4), D(2025, 4, 4)))
    s = run_days(s, config, LONDON, D(2025, 4, 2), D(2025, 4, 3))
    # 04-04 paused, 04-05 frozen, 04-06 (Sunday) off, 04-07 frozen, 04-08 frozen, 04-09 lost.
    step = rules.catch_up(s, config, at(LONDON, "2025-04-10T00:00"))
    assert step.effects == (
        FreezeConsumed(day(D(2025, 4, 5)), 2),
        FreezeConsumed(day(D(2025, 4, 7)), 1),
        FreezeConsumed(day(D(2025, 4, 8)), 0),
        StreakLost(day(D(2025, 4, 9)), 2),
    )


def test_freeze_grants_respect_the_maximum() -> None:
    config = replace(DAILY, freezes=FreezeSettings(1, 2, 1, 5))
    s = rules.new_state(config, LONDON, at(LONDON, "2025-04-01T08:00"))
    step = rules.catch_up(s, config, at(LONDON, "2025-04-10T00:00"))
    assert step.effects == (FreezeEarned(D(2025, 4, 2), 1, 2),)  # capped, then no backlog
    assert rules.grant_freeze(step.state, config, at(LONDON, "2025-04-10T00:00")) is None
    assert rules.next_due(step.state, config, at(LONDON, "2025-04-10T00:00")) is None

    spent = replace(step.state, freezes=0)
    granted = rules.grant_freeze(spent, config, at(LONDON, "2025-04-10T09:00"))
    assert granted is not None
    assert granted.state.freezes == 1
    assert rules.grant_freeze(spent, DAILY, at(LONDON, "2025-04-10T09:00")) is None


def test_pause_validation() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    now = at(LONDON, "2025-04-05T23:30")
    assert rules.pause_problem(s, D(2025, 4, 5), D(2025, 4, 5), now) is None  # today is fine
    assert rules.pause_problem(s, D(2025, 4, 4), D(2025, 4, 6), now) is not None
    assert rules.pause_problem(s, D(2025, 4, 8), D(2025, 4, 7), now) is not None
    s = rules.add_pause(s, Pause("a", D(2025, 4, 10), D(2025, 4, 12)))
    assert rules.pause_problem(s, D(2025, 4, 12), D(2025, 4, 14), now) is not None
    assert rules.pause_problem(s, D(2025, 4, 13), D(2025, 4, 14), now) is None
    assert rules.remove_pause(s, "a").pauses == ()


def test_negative_values_and_other_metrics_never_change_the_period() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = event(s, at(LONDON, "2025-04-02T09:00")).state
    step = event(s, at(LONDON, "2025-04-02T10:00"), -5)
    assert (step.effects, step.state.length, step.state.covered) == ((), 1, day(D(2025, 4, 2)))
    step = event(step.state, at(LONDON, "2025-04-03T10:00"), 7, "other")
    assert (step.effects, step.state.length) == ((), 1)


def test_disabled_users_read_zero_and_never_extend() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = event(s, at(LONDON, "2025-04-02T09:00")).state
    off = rules.personalize(DAILY, customization_enabled=False, enabled=False)
    t = at(LONDON, "2025-04-03T09:00")
    step = event(s, t, config=off)
    assert not step.extended
    assert rules.view(step.state, off, t).length == 0
    assert rules.catch_up(step.state, off, at(LONDON, "2025-04-04T00:00")).effects == (
        StreakLost(day(D(2025, 4, 3)), 1),
    )


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="daysOff"):
        StreakSettings("daily", DAILY.conditions, days_off=frozenset(range(7)))
    with pytest.raises(ValueError, match="week_starts_on"):
        StreakSettings("weekly", DAILY.conditions, week_starts_on=7)
    with pytest.raises(ValueError, match="maxCount"):
        FreezeSettings(2, 101)
    with pytest.raises(ValueError, match="pair"):
        FreezeSettings(0, 3, 7, None)
    with pytest.raises(ValueError, match="unknown evaluation mode"):
        rules.normalize_mode("XOR")
    state = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    weekly = StreakSettings("weekly", DAILY.conditions)
    with pytest.raises(ValueError, match="daily streaks"):
        rules.catch_up(state, weekly, at(LONDON, "2025-04-01T09:00"))


# --- calendars -----------------------------------------------------------------------------


def test_monthly_streak_over_a_leap_february() -> None:
    config = StreakSettings("monthly", (Condition("words", M),))
    utc = "UTC"
    s = rules.new_state(config, utc, at(utc, "2024-01-01T00:00"))
    s = event(s, at(utc, "2024-01-31T23:59"), config=config).state
    v = rules.view(s, config, at(utc, "2024-02-01T00:00"))
    assert (v.period_end, v.expires) == (D(2024, 1, 31), D(2024, 2, 29))
    s = event(s, at(utc, "2024-02-29T23:59"), config=config).state
    v = rules.view(s, config, at(utc, "2024-03-01T00:00"))
    assert (v.length, v.period_start, v.period_end, v.expires) == (
        2,
        D(2024, 2, 1),
        D(2024, 2, 29),
        D(2024, 3, 31),
    )
    assert rules.next_due(s, config, at(utc, "2024-03-01T00:00")) == at(utc, "2024-04-01T00:00")
    assert rules.period_of(D(2023, 2, 14), "monthly") == Period(D(2023, 2, 1), D(2023, 2, 28))


def test_weeks_spanning_the_year_end() -> None:
    assert rules.period_of(D(2026, 1, 1), "weekly") == Period(D(2025, 12, 28), D(2026, 1, 3))
    assert rules.period_of(D(2026, 1, 1), "weekly", 1) == Period(D(2025, 12, 29), D(2026, 1, 4))
    config = StreakSettings("weekly", (Condition("words", M),), week_starts_on=1)
    tz = "Asia/Kathmandu"
    s = rules.new_state(config, tz, at(tz, "2025-12-20T09:00"))
    s = event(s, at(tz, "2025-12-28T23:00"), config=config).state  # Sunday: week of 12-22
    s = event(s, at(tz, "2026-01-04T23:00"), config=config).state  # Sunday: week of 12-29
    v = rules.view(s, config, at(tz, "2026-01-05T00:00"))
    assert (v.length, v.period_start, v.period_end, v.expires) == (
        2,
        D(2025, 12, 29),
        D(2026, 1, 4),
        D(2026, 1, 11),
    )


def test_period_of_an_instant_is_by_local_date() -> None:
    instant = dt.datetime(2026, 1, 1, 11, 0, tzinfo=dt.UTC)
    assert rules.period_of_instant(instant, "Pacific/Kiritimati", "daily") == day(D(2026, 1, 2))
    assert rules.period_of_instant(instant, "Pacific/Pago_Pago", "daily") == day(D(2026, 1, 1))
    # Kathmandu is UTC+5:45: 18:15 UTC on 2025-12-31 is already 2026 there.
    new_year = dt.datetime(2025, 12, 31, 18, 15, tzinfo=dt.UTC)
    assert rules.period_of_instant(new_year, "Asia/Kathmandu", "monthly") == Period(
        D(2026, 1, 1), D(2026, 1, 31)
    )
    assert rules.period_of_instant(
        new_year - dt.timedelta(seconds=1), "Asia/Kathmandu", "monthly"
    ) == Period(D(2025, 12, 1), D(2025, 12, 31))


def test_period_bounds_on_dst_days() -> None:
    # Santiago skips 00:00-01:00 on 2024-09-08 and repeats 23:00-00:00 on 2024-04-06.
    tz = "America/Santiago"
    start, end = rules.period_bounds(day(D(2024, 9, 8)), tz)
    assert (start, end - start) == (
        dt.datetime(2024, 9, 8, 4, tzinfo=dt.UTC),
        dt.timedelta(hours=23),
    )
    start, end = rules.period_bounds(day(D(2024, 4, 6)), tz)
    assert end - start == dt.timedelta(hours=25)
    start, end = rules.period_bounds(day(D(2024, 10, 6)), "Australia/Lord_Howe")
    assert end - start == dt.timedelta(hours=23, minutes=30)
    # Apia skipped 2011-12-30 altogether: a day of length zero.
    start, end = rules.period_bounds(day(D(2011, 12, 30)), "Pacific/Apia")
    assert start == end


def test_a_skipped_midnight_is_the_sweep_time() -> None:
    tz = "America/Santiago"
    s = rules.new_state(DAILY, tz, at(tz, "2024-09-06T09:00"))
    s = event(s, at(tz, "2024-09-07T09:00")).state
    due = rules.next_due(s, DAILY, at(tz, "2024-09-07T10:00"))
    assert due == dt.datetime(2024, 9, 9, 3, tzinfo=dt.UTC)
    s = event(s, at(tz, "2024-09-08T09:00")).state
    # The 2024-09-08 day began at the transition (01:00 local, 04:00 UTC).
    assert rules.period_bounds(day(D(2024, 9, 8)), tz)[0] == dt.datetime(
        2024, 9, 8, 4, tzinfo=dt.UTC
    )
    assert s.length == 2


def test_a_date_the_zone_skips_never_breaks_a_daily_streak() -> None:
    tz = "Pacific/Apia"
    s = rules.new_state(DAILY, tz, at(tz, "2011-12-28T09:00"))
    s = event(s, at(tz, "2011-12-29T09:00")).state
    step = event(s, at(tz, "2011-12-31T09:00"))
    assert step.effects == (StreakExtended(day(D(2011, 12, 31)), 2, at(tz, "2011-12-31T09:00")),)
    hist = rules.history(step.state, DAILY, 3, at(tz, "2011-12-31T10:00"))
    assert [(h.period.start.day, h.length) for h in hist] == [(29, 1), (30, 1), (31, 2)]


# --- time-zone changes ---------------------------------------------------------------------


def test_westward_over_the_date_line_never_counts_a_date_twice() -> None:
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14, UTC-11
    s = rules.new_state(DAILY, east, at(east, "2026-01-01T08:00"))
    s = event(s, at(east, "2026-01-02T09:00")).state
    t = at(east, "2026-01-02T20:00")  # 2026-01-01 19:00 in Pago Pago
    s = rules.change_timezone(s, DAILY, west, t).state
    assert s.tz == west
    step = event(s, t + dt.timedelta(hours=1))  # local 2026-01-01 again
    assert (step.extended, step.state.length) == (False, 1)
    step = event(step.state, at(west, "2026-01-02T12:00"))  # local 2026-01-02 again
    assert (step.extended, step.state.length) == (False, 1)
    assert rules.next_due(step.state, DAILY, at(west, "2026-01-02T12:00")) == at(
        west, "2026-01-04T00:00"
    )
    t = at(west, "2026-01-03T12:00")
    step = event(step.state, t)
    assert step.effects == (StreakExtended(day(D(2026, 1, 3)), 2, t),)


def test_westward_travel_does_not_reopen_a_lost_date() -> None:
    east, west = "Pacific/Kiritimati", "Etc/GMT+12"  # UTC+14, UTC-12
    s = rules.new_state(DAILY, east, at(east, "2026-01-01T08:00"))
    s = event(s, at(east, "2026-01-02T09:00")).state
    t = at(east, "2026-01-04T09:00")  # 01-03 missed: lost at its end
    lost = rules.change_timezone(s, DAILY, west, t)
    assert lost.effects == (StreakLost(day(D(2026, 1, 3)), 1),)
    step = event(lost.state, t)  # 2026-01-02 15:00 in Etc/GMT+12
    assert step.effects == (StreakStarted(day(D(2026, 1, 4)), 1, t),)
    assert step.state.started == D(2026, 1, 4)


def test_eastward_over_the_date_line_skips_a_date_without_breaking() -> None:
    west, east = "Pacific/Pago_Pago", "Pacific/Kiritimati"
    s = rules.new_state(DAILY, west, at(west, "2025-12-30T08:00"))
    s = event(s, at(west, "2025-12-31T09:00")).state
    s = event(s, at(west, "2026-01-01T09:00")).state
    t = at(west, "2026-01-01T23:30")  # 2026-01-03 00:30 in Kiritimati
    moved = rules.change_timezone(s, DAILY, east, t)
    assert moved.effects == ()
    step = event(moved.state, t)
    assert step.effects == (StreakExtended(day(D(2026, 1, 3)), 3, t),)
    hist = rules.history(step.state, DAILY, 4, t)
    assert [(h.period.start, h.length) for h in hist] == [
        (D(2025, 12, 31), 1),
        (D(2026, 1, 1), 2),
        (D(2026, 1, 2), 2),
        (D(2026, 1, 3), 3),
    ]


def test_eastward_move_ends_the_open_period() -> None:
    s = rules.new_state(DAILY, LONDON, at(LONDON, "2025-04-01T08:00"))
    s = event(s, at(LONDON, "2025-04-02T09:00")).state
    t = at(LONDON, "2025-04-03T23:30")  # 00:30 on 04-04 in Berlin; 04-03 was missed
    step = rules.change_timezone(s, DAILY, "Europe/Berlin", t)
    assert step.effects == (StreakLost(day(D(2025, 4, 3)), 1),)


# --- an independent model and properties ---------------------------------------------------

TZS = [
    "UTC",
    LONDON,
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Etc/GMT+12",
    "Pacific/Chatham",
]
# Dates some zones skipped entirely (their day has no instant).
SKIPPED = {"Pacific/Apia": {D(2011, 12, 30)}, "Pacific/Kiritimati": {D(1994, 12, 31)}}
PERIOD_MINUTES = {"daily": 1440, "weekly": 7 * 1440, "monthly": 30 * 1440}
HORIZON_PERIODS = {"daily": 40, "weekly": 14, "monthly": 8}


@dataclass(frozen=True)
class Scenario:
    tz: str
    config: StreakSettings
    t0: dt.datetime
    pauses: tuple[Pause, ...]
    events: tuple[tuple[dt.datetime, str, int], ...]
    checks: tuple[dt.datetime, ...]
    now: dt.datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    tz, first = draw(
        st.one_of(
            st.tuples(st.sampled_from(TZS), st.dates(D(2012, 1, 1), D(2035, 12, 31))),
            st.tuples(
                st.sampled_from(TZS),
                st.sampled_from([D(2024, 2, 20), D(2025, 12, 20), D(2024, 3, 25), D(2024, 9, 28)]),
            ),
            st.sampled_from(
                [("Pacific/Apia", D(2011, 12, 20)), ("Pacific/Kiritimati", D(1994, 12, 20))]
            ),
        )
    )
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly"]))
    metrics = draw(st.sampled_from([("a",), ("a", "b")]))
    conditions = tuple(Condition(m, draw(st.integers(1, 3)) * M) for m in metrics)
    freezes = draw(
        st.none()
        | st.builds(
            lambda start, extra, interval, amount: FreezeSettings(
                start, max(1, start + extra), interval, amount if interval else None
            ),
            st.integers(0, 3),
            st.integers(0, 3),
            st.none() | st.integers(1, 10),
            st.integers(1, 3),
        )
    )
    days_off = (
        frozenset(draw(st.sets(st.integers(0, 6), max_size=6)))
        if frequency == "daily"
        else frozenset()
    )
    config = StreakSettings(
        frequency,  # type: ignore[arg-type]
        conditions,
        mode=draw(st.sampled_from(["AND", "OR"])),
        days_off=days_off,
        freezes=freezes,
        week_starts_on=draw(st.integers(0, 6)),
    )
    t0 = rules.period_bounds(day(first), tz)[0] + dt.timedelta(minutes=draw(st.integers(0, 1439)))
    span = HORIZON_PERIODS[frequency] * PERIOD_MINUTES[frequency]
    # Gaps of up to 1.5 periods: most periods are met, some are missed.
    gaps = draw(
        st.lists(st.integers(1, PERIOD_MINUTES[frequency] * 3 // 2), min_size=5, max_size=60)
    )
    events = []
    offset = 0
    for gap in gaps:
        offset += gap
        if offset > span:
            break
        events.append(
            (
                t0 + dt.timedelta(minutes=offset),
                draw(st.sampled_from(metrics)),
                draw(st.sampled_from([3, 3, 2, 1, 0, -1])) * M,
            )
        )
    pauses: list[Pause] = []
    for index in range(draw(st.integers(0, 2))):
        start = first + dt.timedelta(days=draw(st.integers(0, span // 1440)))
        end = start + dt.timedelta(days=draw(st.integers(0, 12)))
        if all(end < p.start or p.end < start for p in pauses):
            pauses.append(Pause(str(index), start, end))
    checks = tuple(
        sorted(
            t0 + dt.timedelta(minutes=m) for m in draw(st.lists(st.integers(0, span), max_size=5))
        )
    )
    now = t0 + dt.timedelta(minutes=span + draw(st.integers(0, PERIOD_MINUTES[frequency] * 2)))
    return Scenario(tz, config, t0, tuple(pauses), tuple(events), checks, now)


def ref_period(value: dt.date, frequency: str, week_starts_on: int) -> tuple[dt.date, dt.date]:
    if frequency == "daily":
        return value, value
    if frequency == "weekly":
        sunday_based = value.isoweekday() % 7
        start = value - dt.timedelta(days=(sunday_based - week_starts_on) % 7)
        return start, start + dt.timedelta(days=6)
    last = calendar.monthrange(value.year, value.month)[1]
    return value.replace(day=1), value.replace(day=last)


@dataclass
class Expected:
    length: int
    started: dt.date | None
    covered: tuple[dt.date, dt.date] | None
    expires: dt.date | None
    freezes: int
    extended_at: dt.datetime | None
    history: list[tuple[dt.date, int, bool, bool]]


def reference(sc: Scenario, count: int) -> Expected:
    """Walk local dates one by one in a fixed zone: the rules of streaks.md §4-7, restated."""
    cfg = sc.config
    tz = ZoneInfo(sc.tz)
    Span = tuple[dt.date, dt.date]

    def period(value: dt.date) -> Span:
        return ref_period(value, cfg.frequency, cfg.week_starts_on)

    def previous(p: Span) -> Span:
        return period(p[0] - dt.timedelta(days=1))

    def following(p: Span) -> Span:
        return period(p[1] + dt.timedelta(days=1))

    def paused(p: Span) -> bool:
        return any(x.start <= p[1] and p[0] <= x.end for x in sc.pauses)

    def day_off(p: Span) -> bool:
        return cfg.frequency == "daily" and p[0].isoweekday() % 7 in cfg.days_off

    metrics = {c.metric for c in cfg.conditions}

    def met(sums: dict[str, int]) -> bool:
        checks = [sums.get(c.metric, 0) >= c.threshold for c in cfg.conditions]
        return all(checks) if cfg.mode == "AND" else any(checks)

    by_date: dict[dt.date, list[tuple[dt.datetime, str, int]]] = {}
    for when, metric, value in sc.events:
        by_date.setdefault(when.astimezone(tz).date(), []).append((when, metric, value))
    first = sc.t0.astimezone(tz).date()
    last = sc.now.astimezone(tz).date()
    length, started, covered, extended_at = 0, None, None, None
    freezes = cfg.freezes.start_count if cfg.freezes else 0
    hist: dict[tuple[dt.date, dt.date], tuple[int, bool, bool]] = {}
    sums: dict[str, int] = {}
    current = first
    while True:
        here = period(current)
        for when, metric, value in by_date.get(current, []):
            sums[metric] = sums.get(metric, 0) + value
            if metric in metrics and met(sums) and covered != here:
                if length > 0 and covered == previous(here):
                    length += 1
                else:
                    length, started = 1, current
                covered, extended_at = here, when
                hist[here] = (length, False, False)
        if current == last:
            break
        current += dt.timedelta(days=1)
        if period(current) != here:
            sums = {}
            if length > 0 and covered != here:
                if cfg.frequency == "daily" and here[0] in SKIPPED.get(sc.tz, set()):
                    covered, hist[here] = here, (length, False, False)
                elif paused(here) or day_off(here):
                    covered, hist[here] = here, (length, False, True)
                elif cfg.freezes and freezes > 0:
                    freezes -= 1
                    covered, hist[here] = here, (length, True, False)
                else:
                    length, started, covered, extended_at = 0, None, None, None
        f = cfg.freezes
        if (
            f
            and f.auto_earn_interval
            and f.auto_earn_amount
            and (current - first).days % f.auto_earn_interval == 0
        ):
            freezes = min(f.max_count, freezes + f.auto_earn_amount)
    expires = None
    if covered is not None:
        nxt = following(covered)
        while paused(nxt) or day_off(nxt):
            nxt = following(nxt)
        expires = nxt[1]
    history = []
    p = period(last)
    for index in range(count):
        length_then, used_freeze, used_pause = hist.get(
            p, (length if index == 0 else 0, False, False)
        )
        history.append((p[0], length_then, used_freeze, used_pause))
        p = previous(p)
    history.reverse()
    return Expected(length, started, covered, expires, freezes, extended_at, history)


def simulate(sc: Scenario) -> tuple[StreakState, list[rules.Effect]]:
    state = rules.new_state(sc.config, sc.tz, sc.t0)
    for pause in sc.pauses:
        state = rules.add_pause(state, pause)
    effects: list[rules.Effect] = []
    # At equal instants the event goes first; a sweep never runs between the two.
    timeline: list[tuple[dt.datetime, int, str, int]] = sorted(
        [(t, 0, metric, value) for t, metric, value in sc.events]
        + [(t, 1, "", 0) for t in sc.checks]
    )
    for when, kind, metric, value in timeline:
        if kind == 0:
            step = rules.on_event(state, sc.config, metric, value, when)
        else:
            step = rules.catch_up(state, sc.config, when)
        state = step.state
        effects.extend(step.effects)
    return state, effects


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_rules_agree_with_the_reference_model(sc: Scenario) -> None:
    state, _ = simulate(sc)
    expected = reference(sc, 8)
    v = rules.view(state, sc.config, sc.now)
    covered = (v.period_start, v.period_end) if v.period_start else None
    assert (v.length, v.started, covered, v.expires) == (
        expected.length,
        expected.started,
        expected.covered,
        expected.expires,
    )
    assert v.extended_at == expected.extended_at
    assert (v.freezes if sc.config.freezes else 0) == expected.freezes
    hist = rules.history(state, sc.config, 8, sc.now)
    assert [
        (h.period.start, h.length, h.used_freeze, h.used_pause) for h in hist
    ] == expected.history


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_catching_up_late_equals_every_sweep_on_time(sc: Scenario) -> None:
    lazy, lazy_effects = simulate(replace(sc, checks=()))
    final = rules.catch_up(lazy, sc.config, sc.now)
    lazy, lazy_effects = final.state, lazy_effects + list(final.effects)

    tz = ZoneInfo(sc.tz)
    state = rules.new_state(sc.config, sc.tz, sc.t0)
    for pause in sc.pauses:
        state = rules.add_pause(state, pause)
    swept: list[rules.Effect] = []

    def sweep_until(
        state: StreakState, limit: dt.datetime, clock: dt.datetime
    ) -> tuple[StreakState, dt.datetime]:
        while True:
            due = rules.next_due(state, sc.config, clock)
            if due is None or due > limit:
                return state, clock
            assert due > clock
            assert due == rules.period_bounds(day(due.astimezone(tz).date()), sc.tz)[0]
            step = rules.catch_up(state, sc.config, due)
            state, clock = step.state, due
            swept.extend(step.effects)

    clock = sc.t0
    for when, metric, value in sc.events:
        state, clock = sweep_until(state, when, clock)
        step = rules.on_event(state, sc.config, metric, value, when)
        state, clock = step.state, when
        swept.extend(step.effects)
    state, clock = sweep_until(state, sc.now, clock)
    step = rules.catch_up(state, sc.config, sc.now)
    assert step.state == lazy
    assert swept + list(step.effects) == lazy_effects


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_closing_period_by_period_equals_catching_up(sc: Scenario) -> None:
    state, _ = simulate(replace(sc, checks=()))
    once = rules.catch_up(state, sc.config, sc.now)
    effects: list[rules.Effect] = []
    while True:
        end = rules.current_period(state, sc.config).end
        if rules.period_bounds(day(end), sc.tz)[1] > sc.now:
            break
        step = rules.close_period(state, sc.config, sc.now)
        state = step.state
        effects.extend(step.effects)
    rest = rules.catch_up(state, sc.config, sc.now)
    assert rest.state == once.state
    assert effects + list(rest.effects) == list(once.effects)
    with pytest.raises(ValueError, match="has not ended"):
        rules.close_period(rest.state, sc.config, sc.now)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([*TZS, "America/Goose_Bay", "America/Moncton"]),
    st.datetimes(
        min_value=dt.datetime(1980, 1, 1),
        max_value=dt.datetime(2040, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    st.sampled_from(["daily", "weekly", "monthly"]),
    st.integers(1, 400),
)
def test_next_due_is_a_local_midnight_strictly_after_now(
    tz: str, now: dt.datetime, frequency: str, minutes: int
) -> None:
    config = StreakSettings(frequency, (Condition("a", M),), freezes=FreezeSettings(0, 2, 3, 1))  # type: ignore[arg-type]
    created = now - dt.timedelta(days=2)
    state = rules.on_event(rules.new_state(config, tz, created), config, "a", M, created).state
    later = now + dt.timedelta(minutes=minutes)
    for moment in (now, later):
        due = rules.next_due(state, config, moment)
        assert due is not None
        assert due > moment
        assert due == rules.period_bounds(day(due.astimezone(ZoneInfo(tz)).date()), tz)[0]


TRAVEL_TZS = [
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Pacific/Pago_Pago",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    LONDON,
]


def _extension_periods(effects: list[rules.Effect]) -> list[Period]:
    return [e.period for e in effects if isinstance(e, StreakStarted | StreakExtended)]


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(2015, 1, 1),
        max_value=dt.datetime(2035, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    st.lists(
        st.tuples(st.integers(1, 72 * 60), st.sampled_from(TRAVEL_TZS)), min_size=1, max_size=12
    ),
)
def test_a_diligent_traveller_never_loses_and_no_date_counts_twice(
    t0: dt.datetime, legs: list[tuple[int, str]]
) -> None:
    """Active at least every 5 hours and on both sides of every zone change: east or west,
    the streak survives, each extension is a new later period, and the length stays within
    what the elapsed real time allows."""
    state = rules.new_state(DAILY, TRAVEL_TZS[0], t0)
    effects: list[rules.Effect] = []
    clock = t0

    def act(state: StreakState, when: dt.datetime) -> StreakState:
        step = rules.on_event(state, DAILY, "words", M, when)
        effects.extend(step.effects)
        return step.state

    state = act(state, clock)
    for minutes, tz in legs:
        end = clock + dt.timedelta(minutes=minutes)
        while clock + dt.timedelta(hours=5) < end:
            clock += dt.timedelta(hours=5)
            state = act(state, clock)
        clock = end
        state = act(state, clock)
        step = rules.change_timezone(state, DAILY, tz, clock)
        effects.extend(step.effects)
        state = act(step.state, clock)

    assert not any(isinstance(e, StreakLost) for e in effects)
    periods = _extension_periods(effects)
    assert periods == sorted(set(periods))
    assert state.length == len(periods)
    elapsed_days = (clock - t0) / dt.timedelta(days=1)
    assert state.length <= elapsed_days + 26 / 24 + 2


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(2015, 1, 1),
        max_value=dt.datetime(2035, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    st.lists(
        st.tuples(st.integers(1, 40 * 60), st.none() | st.sampled_from(TRAVEL_TZS)),
        min_size=1,
        max_size=40,
    ),
)
def test_random_travel_never_counts_a_period_twice(
    t0: dt.datetime, moves: list[tuple[int, str | None]]
) -> None:
    config = replace(DAILY, freezes=FreezeSettings(1, 3, 5, 1))
    state = rules.new_state(config, "Pacific/Kiritimati", t0)
    effects: list[rules.Effect] = []
    clock = t0
    run_started = t0
    for minutes, tz in moves:
        clock += dt.timedelta(minutes=minutes)
        step = (
            rules.on_event(state, config, "words", M, clock)
            if tz is None
            else rules.change_timezone(state, config, tz, clock)
        )
        state = step.state
        effects.extend(step.effects)
        for e in step.effects:
            if isinstance(e, StreakStarted):
                run_started = e.at
        assert state.today >= clock.astimezone(ZoneInfo(state.tz)).date()
    periods = _extension_periods(effects)
    assert periods == sorted(set(periods))
    if state.length:
        assert state.length <= (clock - run_started) / dt.timedelta(days=1) + 26 / 24 + 2
