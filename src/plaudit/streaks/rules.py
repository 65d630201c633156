"""Pure rules of streaks: periods, conditions, the per-user state machine and its read views.

Nothing here touches the database, the clock or HTTP. Every function that depends on time
takes `now` (an aware UTC datetime); every transition returns a new frozen `StreakState`
together with the effects it produced (`Step`), which the caller persists and turns into
webhooks, achievement checks and points triggers.

State
-----
`StreakState` holds one user's streak for one frequency (the scope's configured one; a
scope that wants to switch frequency without losing data keeps one state per frequency).

- `today`: the *frontier*, the latest local date the user has reached, in whatever time
  zone was in force at the time. It never moves backwards. The open period is
  `period_of(today)`; every earlier period is closed.
- `length`, `started`, `covered` (the period P of streaks.md §3: latest period counted,
  whether extended, frozen, paused, a day off or skipped) and `last_extended_at`.
- `freezes` held and `freeze_anchor` (local date the auto-earn clock counts from: the
  user's creation).
- `sums`: per-metric sums of event values in the open period (millionths, like metric
  totals). Reset when a new period opens.
- `pauses` that still matter (active ones not yet ended before the open period), recent
  `history` entries (the last `HISTORY_LIMIT` periods) and `past` streaks (lost or reset,
  kept while inside the restore window).

Transitions and who calls them
------------------------------
- Creating a user: `new_state(settings, tz, now)` (grants `freezes.startCount`).
- Event ingestion: `on_event(state, settings, metric, value, now)`; it catches up first,
  adds the value to the open period's sums, then extends or starts the streak when the
  conditions become met (`on_period_met`). `Step.extended` is the event response's flag.
- End-of-period sweep: index each user by `next_due(state, settings, now)`; when that
  instant has passed call `catch_up(state, settings, now)` (or `close_period` for exactly
  one period) and re-index with `next_due`. Lazy evaluation is the same call: `catch_up`
  applies every owed midnight in order, so running it once equals running every sweep.
- The user's time zone changed (or the scope default did, for users without `tz`):
  `change_timezone(state, settings, tz, now)` before anything else; the change takes
  effect at `now`.
- Admin: `add_pause` (after `pause_problem`), `remove_pause`, `grant_freeze`, `restore`,
  `reset`.
- Reads: `view` (BaseStreakResponse fields), `history` (streakHistory), `visible_pauses`.
  Reads catch up internally, so a stale stored state still reads correctly.

Time zones and days
-------------------
Periods are local calendar days, weeks (starting on `week_starts_on`, 0 = Sunday, the
scope setting of DECISIONS.md) or months. A local day starts at the first instant whose
wall-clock date is that day (`core.periods.start_of_local_day`): where DST skips midnight
the day starts at the transition; where midnight happens twice, at the first one. A date
a zone skips entirely (Pacific/Apia 2011-12-30) is a zero-length day.

Midnights drive everything: the state moves to date D at `start_of_local_day(D)`, even in
the few zones whose wall clock briefly returns to the previous date after midnight (the
old 00:01 fall-back of America/St_Johns); activity in such a returned hour counts toward
the frontier date. A period the user never spent any time in (a skipped date, or the dates
jumped over when the time zone moves east) is *skipped*: covered at unchanged length, no
freeze, no loss. Moving west makes already reached dates come round again; they count
toward the frontier period, so no period is ever counted twice and closed periods never
reopen.

Decisions where streaks.md is silent
------------------------------------
- A missed day off (daily only) and a paused period are both recorded as
  `used_pause=True`; pauses take precedence, then days off, then freezes. Activity on a
  day off or during a pause extends normally.
- `expires` skips forward over paused periods and days off (not over freezes).
- Users with streaks disabled (`settings.enabled=False`) read as length 0, never extend,
  and lose a running streak at the first missed period without consuming freezes.
- Events on metrics outside the conditions never trigger an evaluation.
- Restore: when the open period is already met the restored length counts it too
  (`max + 1`); otherwise P becomes the previous period. The daily window is the 90 local
  dates ending today.
- Auto-earn counts local days from the user's creation (`freeze_anchor`), whatever the
  streak frequency, and grants at the local midnight starting each due date, after that
  midnight's consumption. Grants are never back-filled while at the maximum.
- A time-zone change takes effect at the instant the server learns of it (`now`).
- A state belongs to one frequency and one week start; `catch_up` refuses settings of
  another frequency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from plaudit.core.periods import (
    SUNDAY,
    Unit,
    add_periods,
    local_date,
    period_end,
    period_start,
    start_of_local_day,
    weekday_js,
    zone,
)

Frequency = Literal["daily", "weekly", "monthly"]
Mode = Literal["AND", "OR"]

UNITS: dict[str, Unit] = {"daily": "day", "weekly": "week", "monthly": "month"}
MAX_FREEZES = 100
HISTORY_LIMIT = 365  # the largest historyPeriods the API accepts
DAILY_RESTORE_DAYS = 90
_DAY = dt.timedelta(days=1)


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A local period: inclusive first and last local dates."""

    start: dt.date
    end: dt.date


def period_of(day: dt.date, frequency: Frequency, week_starts_on: int = SUNDAY) -> Period:
    unit = UNITS[frequency]
    start = period_start(day, unit, week_starts_on)
    return Period(start, period_end(start, unit))


def period_of_instant(
    instant: dt.datetime, tz: str, frequency: Frequency, week_starts_on: int = SUNDAY
) -> Period:
    return period_of(local_date(instant, zone(tz)), frequency, week_starts_on)


def next_period(period: Period, frequency: Frequency) -> Period:
    start = period.end + _DAY
    return Period(start, period_end(start, UNITS[frequency]))


def previous_period(period: Period, frequency: Frequency) -> Period:
    return Period(add_periods(period.start, UNITS[frequency], -1), period.start - _DAY)


def period_bounds(period: Period, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants at which the period starts and ends (its local midnights)."""
    z = zone(tz)
    return start_of_local_day(period.start, z), start_of_local_day(period.end + _DAY, z)


# --- settings and conditions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    metric: str  # metric key
    threshold: int  # millionths; met when the period's sum is >= threshold


@dataclass(frozen=True, slots=True)
class FreezeSettings:
    start_count: int
    max_count: int  # <= MAX_FREEZES
    auto_earn_interval: int | None = None  # days
    auto_earn_amount: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start_count <= self.max_count <= MAX_FREEZES:
            raise ValueError("freezes need 0 <= startCount <= maxCount <= 100")
        if (self.auto_earn_interval is None) != (self.auto_earn_amount is None):
            raise ValueError("autoEarnInterval and autoEarnAmount come as a pair")
        if (self.auto_earn_interval or 1) < 1 or (self.auto_earn_amount or 1) < 1:
            raise ValueError("autoEarnInterval and autoEarnAmount must be positive")

    @property
    def auto_earn(self) -> bool:
        return bool(self.auto_earn_interval and self.auto_earn_amount)


@dataclass(frozen=True, slots=True)
class StreakSettings:
    """Effective settings for one user (scope settings after `personalize`)."""

    frequency: Frequency
    conditions: tuple[Condition, ...]
    mode: Mode = "AND"
    days_off: frozenset[int] = frozenset()  # 0 = Sunday … 6 = Saturday; daily only
    freezes: FreezeSettings | None = None  # None: freezes disabled
    week_starts_on: int = SUNDAY
    enabled: bool = True  # the user's `streak.enabled` preference

    def __post_init__(self) -> None:
        # At least one weekday must count, or `expires` would never find a period.
        if not self.days_off <= frozenset(range(7)) or len(self.days_off) > 6:
            raise ValueError("daysOff holds at most 6 weekdays from 0 (Sunday) to 6")
        if not 0 <= self.week_starts_on <= 6:
            raise ValueError("week_starts_on is a weekday from 0 (Sunday) to 6")


def normalize_mode(mode: str) -> Mode:
    """The wire spells ALL as AND; ALL is accepted as input."""
    if mode in ("AND", "ALL"):
        return "AND"
    if mode == "OR":
        return "OR"
    raise ValueError(f"unknown evaluation mode {mode!r}")


def personalize(
    scope: StreakSettings,
    *,
    customization_enabled: bool,
    enabled: bool | None = None,
    evaluation_mode: str | None = None,
    metrics: Sequence[Condition] | None = None,
    days_off: Iterable[int] | None = None,
) -> StreakSettings:
    """Apply a user's preferences. A user's metric list replaces the scope's entirely; an
    omitted part falls back to the scope. Overrides other than `enabled` need
    customization, and are ignored without it (the preferences endpoint refuses them)."""
    result = scope if enabled is None else replace(scope, enabled=enabled)
    if not customization_enabled:
        return result
    if evaluation_mode is not None:
        result = replace(result, mode=normalize_mode(evaluation_mode))
    if metrics is not None:
        result = replace(result, conditions=tuple(metrics))
    if days_off is not None:
        result = replace(result, days_off=frozenset(days_off))
    return result


def conditions_met(sums: Mapping[str, int], conditions: Sequence[Condition], mode: Mode) -> bool:
    """Whether one period's per-metric sums meet the conditions. No conditions: never."""
    if not conditions:
        return False
    met = (sums.get(c.metric, 0) >= c.threshold for c in conditions)
    return all(met) if mode == "AND" else any(met)


def is_day_off(period: Period, settings: StreakSettings) -> bool:
    return settings.frequency == "daily" and weekday_js(period.start) in settings.days_off


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pause:
    id: str
    start: dt.date  # first protected local date
    end: dt.date  # last protected local date (inclusive)

    def overlaps(self, period: Period) -> bool:
        return self.start <= period.end and period.start <= self.end


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    period: Period
    length: int  # streak length at the end of the period (0: outside any streak)
    used_freeze: bool = False
    used_pause: bool = False  # paused, or a missed day off
    reset_at: dt.datetime | None = None  # an admin reset happened in this period


@dataclass(frozen=True, slots=True)
class PastStreak:
    """A streak that was lost or reset, kept for restore."""

    length: int
    started: dt.date
    last_period: Period  # last period it covered, where it had `length`
    last_extended_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StreakState:
    frequency: Frequency
    tz: str  # IANA name in force; change it only through `change_timezone`
    today: dt.date  # frontier: latest local date reached; never decreases
    freeze_anchor: dt.date  # local date the auto-earn clock counts days from
    length: int = 0
    started: dt.date | None = None
    covered: Period | None = None  # P: latest period counted for the streak
    last_extended_at: dt.datetime | None = None
    freezes: int = 0
    sums: tuple[tuple[str, int], ...] = ()  # open period, sorted by metric key
    pauses: tuple[Pause, ...] = ()  # active pauses, by start
    history: tuple[HistoryEntry, ...] = ()  # oldest first, one per period at most
    past: tuple[PastStreak, ...] = ()


# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreakStarted:  # webhook streak.started
    period: Period
    length: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class StreakExtended:  # webhook streak.extended
    period: Period
    length: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class StreakLost:  # webhook streak.lost {length}
    missed: Period
    length: int


@dataclass(frozen=True, slots=True)
class FreezeConsumed:  # webhook streak.freeze_consumed {consumed: 1, freezes}
    period: Period
    freezes: int  # left


@dataclass(frozen=True, slots=True)
class FreezeEarned:  # webhook streak.freeze_earned {earned, freezes}
    day: dt.date
    earned: int
    freezes: int  # held afterwards


Effect: TypeAlias = StreakStarted | StreakExtended | StreakLost | FreezeConsumed | FreezeEarned


@dataclass(frozen=True, slots=True)
class Step:
    state: StreakState
    effects: tuple[Effect, ...] = ()

    @property
    def extended(self) -> bool:
        """True when this step increased the length (a start included)."""
        return any(isinstance(e, StreakStarted | StreakExtended) for e in self.effects)


@dataclass(frozen=True, slots=True)
class StreakView:
    """The BaseStreakResponse fields (plus `extended_at` for StreakResponse.extended)."""

    length: int
    frequency: Frequency
    started: dt.date | None
    period_start: dt.date | None
    period_end: dt.date | None
    expires: dt.date | None
    extended_at: dt.datetime | None
    freezes: int | None  # None: freezes disabled, omit the field
    max_freezes: int | None
    freeze_auto_earn_interval: int | None  # None: auto-earn off, omit the field
    freeze_auto_earn_amount: int | None


# --- construction and small helpers ------------------------------------------------------


def new_state(settings: StreakSettings, tz: str, now: dt.datetime) -> StreakState:
    """The state of a user created at `now` in `tz` (initial freeze grant included)."""
    today = local_date(now, zone(tz))
    freezes = settings.freezes.start_count if settings.freezes is not None else 0
    return StreakState(
        frequency=settings.frequency, tz=tz, today=today, freeze_anchor=today, freezes=freezes
    )


def current_period(state: StreakState, settings: StreakSettings) -> Period:
    """The open period: the one an event processed now counts toward (after catch-up)."""
    return period_of(state.today, state.frequency, settings.week_starts_on)


def _check(state: StreakState, settings: StreakSettings) -> None:
    if state.frequency != settings.frequency:
        raise ValueError(
            f"state is for {state.frequency} streaks, settings are {settings.frequency}"
        )


def _put_history(
    history: tuple[HistoryEntry, ...], entry: HistoryEntry
) -> tuple[HistoryEntry, ...]:
    """Insert or replace the entry of `entry.period`, keeping an earlier reset stamp."""
    kept = [h for h in history if h.period != entry.period]
    old = next((h for h in history if h.period == entry.period), None)
    if old is not None and entry.reset_at is None:
        entry = replace(entry, reset_at=old.reset_at)
    kept.append(entry)
    kept.sort(key=lambda h: h.period)
    return tuple(kept)


def restore_window_start(
    today: dt.date, frequency: Frequency, week_starts_on: int = SUNDAY
) -> dt.date:
    """First local date of the restore window (streaks.md §8)."""
    if frequency == "daily":
        return today - dt.timedelta(days=DAILY_RESTORE_DAYS - 1)
    if frequency == "weekly":
        return period_start(dt.date(today.year, 1, 1), "week", week_starts_on)
    return dt.date(today.year - 1, 1, 1)


def _prune(state: StreakState, settings: StreakSettings) -> StreakState:
    """Drop what can no longer matter; depends only on `today`, so it commutes with
    catching up in several calls."""
    open_start = current_period(state, settings).start
    oldest = add_periods(open_start, UNITS[state.frequency], -(HISTORY_LIMIT - 1))
    window = restore_window_start(state.today, state.frequency, settings.week_starts_on)
    history = tuple(h for h in state.history if h.period.start >= oldest)
    past = tuple(p for p in state.past if p.last_period.end >= window)
    pauses = tuple(p for p in state.pauses if p.end >= open_start)
    if history == state.history and past == state.past and pauses == state.pauses:
        return state
    return replace(state, history=history, past=past, pauses=pauses)


def _is_grant_day(day: dt.date, state: StreakState, settings: StreakSettings) -> bool:
    f = settings.freezes
    if f is None or not f.auto_earn or f.auto_earn_interval is None:
        return False
    days = (day - state.freeze_anchor).days
    return days > 0 and days % f.auto_earn_interval == 0


def _next_grant_day(state: StreakState, settings: StreakSettings) -> dt.date | None:
    """The next local date after `today` on which a freeze would be earned, if any can be."""
    f = settings.freezes
    if f is None or not f.auto_earn or f.auto_earn_interval is None:
        return None
    if state.freezes >= f.max_count:
        return None  # nothing accrues at the maximum, and there is no backlog
    interval = f.auto_earn_interval
    days = (state.today - state.freeze_anchor).days
    following = max(1, (days // interval + 1) * interval) if days >= 0 else interval
    return state.freeze_anchor + dt.timedelta(days=following)


def _lose(state: StreakState, missed: Period) -> tuple[StreakState, list[Effect]]:
    assert state.started is not None
    assert state.covered is not None
    record = PastStreak(state.length, state.started, state.covered, state.last_extended_at)
    lost = replace(
        state,
        length=0,
        started=None,
        covered=None,
        last_extended_at=None,
        past=(*state.past, record),
    )
    return lost, [StreakLost(missed, state.length)]


def _close(
    state: StreakState, settings: StreakSettings, period: Period, lived: bool | None
) -> tuple[StreakState, list[Effect]]:
    """The end of `period` (streaks.md §4.2). `lived` None: decide by the period's length
    in the state's zone (a date the zone skips was never lived)."""
    if state.length == 0 or state.covered == period:
        return state, []
    if not settings.enabled:
        return _lose(state, period)
    if lived is None:
        start, end = period_bounds(period, state.tz)
        lived = start < end
    if not lived:
        entry = HistoryEntry(period, state.length)
        return replace(state, covered=period, history=_put_history(state.history, entry)), []
    if any(p.overlaps(period) for p in state.pauses) or is_day_off(period, settings):
        entry = HistoryEntry(period, state.length, used_pause=True)
        return replace(state, covered=period, history=_put_history(state.history, entry)), []
    if settings.freezes is not None and state.freezes > 0:
        left = state.freezes - 1
        entry = HistoryEntry(period, state.length, used_freeze=True)
        frozen = replace(
            state, freezes=left, covered=period, history=_put_history(state.history, entry)
        )
        return frozen, [FreezeConsumed(period, left)]
    return _lose(state, period)


def _enter_next_day(
    state: StreakState, settings: StreakSettings, lived_until: dt.date | None
) -> tuple[StreakState, list[Effect]]:
    """Local midnight starting `today + 1`: close the open period if it ends, then grant
    auto-earned freezes (consumption first, as streaks.md §6 orders them).

    `lived_until`: set when the time zone moved east; periods starting after that date were
    jumped over and are skipped."""
    day = state.today + _DAY
    effects: list[Effect] = []
    open_period = current_period(state, settings)
    if day > open_period.end:
        lived = None if lived_until is None else open_period.start <= lived_until
        state, effects = _close(state, settings, open_period, lived)
        state = replace(state, sums=())
    state = replace(state, today=day)
    if _is_grant_day(day, state, settings):
        assert settings.freezes is not None
        assert settings.freezes.auto_earn_amount is not None
        room = settings.freezes.max_count - state.freezes
        earned = min(settings.freezes.auto_earn_amount, room)
        if earned > 0:
            state = replace(state, freezes=state.freezes + earned)
            effects.append(FreezeEarned(day, earned, state.freezes))
    return _prune(state, settings), effects


def _advance(
    state: StreakState, settings: StreakSettings, target: dt.date, lived_until: dt.date | None
) -> Step:
    effects: list[Effect] = []
    while state.today < target:
        if state.length == 0:
            # Nothing to close while no streak runs: jump to the day before the next grant.
            grant = _next_grant_day(state, settings)
            stop = target if grant is None else min(target, grant)
            if stop - _DAY > state.today:
                jumped = stop - _DAY
                same = current_period(state, settings) == period_of(
                    jumped, state.frequency, settings.week_starts_on
                )
                state = _prune(
                    replace(state, today=jumped, sums=state.sums if same else ()), settings
                )
                continue
        state, produced = _enter_next_day(state, settings, lived_until)
        effects.extend(produced)
    return Step(state, tuple(effects))


def _frontier(state: StreakState, now: dt.datetime) -> dt.date:
    """The latest local date whose midnight has passed at `now` (never before `today`: after
    a westward move the frontier holds)."""
    tz = zone(state.tz)
    day = max(state.today, local_date(now, tz))
    # In zones whose clock returns to the previous date after midnight, the next date's
    # midnight may already be past although the wall clock shows the earlier date.
    while start_of_local_day(day + _DAY, tz) <= now:
        day += _DAY
    return day


# --- transitions -------------------------------------------------------------------------


def catch_up(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step:
    """Apply every local midnight up to `now`, in order: close ended periods (pause, day
    off, freeze or loss), grant auto-earned freezes. Catching up in several calls gives
    the same state and effects as one call."""
    _check(state, settings)
    return _advance(state, settings, _frontier(state, now), None)


def close_period(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step:
    """One end-of-period sweep: apply the midnights up to and including the end of the
    open period, which must have ended by `now`."""
    _check(state, settings)
    end = current_period(state, settings).end
    if start_of_local_day(end + _DAY, zone(state.tz)) > now:
        raise ValueError(f"the period ending {end} has not ended at {now.isoformat()}")
    return _advance(state, settings, end + _DAY, None)


def change_timezone(
    state: StreakState, settings: StreakSettings, tz: str, now: dt.datetime
) -> Step:
    """The user's time zone becomes `tz` at `now`.

    Catches up in the old zone first. Moving east past midnight closes the open period
    as usual (the user spent time in it) and skips the periods wholly jumped over. Moving
    west keeps the frontier: the repeated dates count toward the open period."""
    step = catch_up(state, settings, now)
    state = step.state
    if tz == state.tz:
        return step
    moved = replace(state, tz=tz)
    target = local_date(now, zone(tz))
    if target <= moved.today:
        return Step(moved, step.effects)
    jumped = _advance(moved, settings, target, lived_until=state.today)
    return Step(jumped.state, step.effects + jumped.effects)


def _extend(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step:
    """The open period's conditions are met (state already caught up)."""
    period = current_period(state, settings)
    if not settings.enabled or state.covered == period:
        return Step(state)
    effect: Effect
    if state.length > 0 and state.covered == previous_period(period, state.frequency):
        length = state.length + 1
        started = state.started
        effect = StreakExtended(period, length, now)
    else:
        # Started on the frontier date, which is the local date of the event except after
        # a westward move, where it keeps `started` inside the counted period.
        length, started = 1, state.today
        effect = StreakStarted(period, length, now)
    extended = replace(
        state,
        length=length,
        started=started,
        covered=period,
        last_extended_at=now,
        history=_put_history(state.history, HistoryEntry(period, length)),
    )
    return Step(extended, (effect,))


def on_period_met(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step:
    """Record that the conditions are met in the period open at `now`: start or extend,
    at most once per period. Callers that keep their own period sums use this instead of
    `on_event`."""
    step = catch_up(state, settings, now)
    met = _extend(step.state, settings, now)
    return Step(met.state, step.effects + met.effects)


def on_event(
    state: StreakState, settings: StreakSettings, metric: str, value: int, now: dt.datetime
) -> Step:
    """An event of `value` (millionths, may be negative) on `metric` processed at `now`."""
    step = catch_up(state, settings, now)
    state = step.state
    sums = dict(state.sums)
    sums[metric] = sums.get(metric, 0) + value
    state = replace(state, sums=tuple(sorted(sums.items())))
    if metric not in {c.metric for c in settings.conditions} or not conditions_met(
        sums, settings.conditions, settings.mode
    ):
        return Step(state, step.effects)
    met = _extend(state, settings, now)
    return Step(met.state, step.effects + met.effects)


def next_due(state: StreakState, settings: StreakSettings, now: dt.datetime) -> dt.datetime | None:
    """When the sweep must next look at this user: the first local midnight after `now`
    at which a period may be missed or a freeze earned. None: nothing can happen without
    activity. Recompute after every transition."""
    state = catch_up(state, settings, now).state
    tz = zone(state.tz)
    candidates: list[dt.datetime] = []
    if state.length > 0:
        period = current_period(state, settings)
        if state.covered == period:
            period = next_period(period, state.frequency)
        candidates.append(start_of_local_day(period.end + _DAY, tz))
    grant = _next_grant_day(state, settings)
    if grant is not None:
        candidates.append(start_of_local_day(grant, tz))
    return min(candidates, default=None)


# --- admin actions -----------------------------------------------------------------------


def pause_problem(state: StreakState, start: dt.date, end: dt.date, now: dt.datetime) -> str | None:
    """Why a new pause cannot be created (None: it can)."""
    today = local_date(now, zone(state.tz))
    if start < today:
        return "start must not be in the past"
    if end < start:
        return "end must not be before start"
    if any(p.start <= end and start <= p.end for p in state.pauses):
        return "Pause overlaps an existing active pause"
    return None


def add_pause(state: StreakState, pause: Pause) -> StreakState:
    """Add an already validated pause (see `pause_problem`)."""
    return replace(state, pauses=tuple(sorted((*state.pauses, pause), key=lambda p: p.start)))


def remove_pause(state: StreakState, pause_id: str) -> StreakState:
    """A deleted pause stops applying; periods it already excused stay excused."""
    return replace(state, pauses=tuple(p for p in state.pauses if p.id != pause_id))


def visible_pauses(state: StreakState, now: dt.datetime) -> tuple[Pause, ...]:
    """Upcoming and currently active pauses, by start (StreakResponse.pauses)."""
    today = local_date(now, zone(state.tz))
    return tuple(p for p in state.pauses if p.end >= today)


def grant_freeze(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step | None:
    """An admin grant of one freeze; None when freezes are disabled or it would exceed the
    maximum ("Would exceed maximum freeze limit")."""
    step = catch_up(state, settings, now)
    state = step.state
    if settings.freezes is None or state.freezes + 1 > settings.freezes.max_count:
        return None
    granted = replace(state, freezes=state.freezes + 1)
    return Step(granted, (*step.effects, FreezeEarned(state.today, 1, granted.freezes)))


def reset(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step | None:
    """Admin reset: length 0 at once, `reset_at` stamped on the open period, freezes and
    pauses kept, no webhook. None when there is no streak to reset (a warning)."""
    step = catch_up(state, settings, now)
    state = step.state
    if state.length == 0:
        return None
    assert state.started is not None
    assert state.covered is not None
    record = PastStreak(state.length, state.started, state.covered, state.last_extended_at)
    entry = HistoryEntry(current_period(state, settings), 0, reset_at=now)
    cleared = replace(
        state,
        length=0,
        started=None,
        covered=None,
        last_extended_at=None,
        past=(*state.past, record),
        history=_put_history(state.history, entry),
    )
    return Step(cleared, step.effects)


def restorable_length(state: StreakState, settings: StreakSettings, now: dt.datetime) -> int:
    """The longest lost or reset streak reached within the restore window (0: none)."""
    state = catch_up(state, settings, now).state
    window = restore_window_start(state.today, state.frequency, settings.week_starts_on)
    return max((p.length for p in state.past if p.last_period.end >= window), default=0)


def restore(state: StreakState, settings: StreakSettings, now: dt.datetime) -> Step | None:
    """Admin restore to the longest streak reached in the window. None when that is not
    longer than the current length ("No streak to restore")."""
    step = catch_up(state, settings, now)
    state = step.state
    window = restore_window_start(state.today, state.frequency, settings.week_starts_on)
    candidates = [p for p in state.past if p.last_period.end >= window]
    if not candidates:
        return None
    best = max(candidates, key=lambda p: (p.length, p.last_period))
    if best.length <= state.length:
        return None
    period = current_period(state, settings)
    before = previous_period(period, state.frequency)
    if best.last_period == period:
        # Reset (or lost) after counting the open period: it comes back as it was, and the
        # open period is not counted a second time.
        length, covered, extended_at = best.length, period, best.last_extended_at
        history = _put_history(state.history, HistoryEntry(period, length))
        restored = replace(
            state,
            length=length,
            started=best.started,
            covered=covered,
            last_extended_at=extended_at,
            history=history,
        )
        return Step(restored, step.effects)
    history = _put_history(state.history, HistoryEntry(before, best.length))
    if state.covered == period:
        # The open period is already met: it counts on top of the restored streak.
        length, covered, extended_at = best.length + 1, period, state.last_extended_at
        history = _put_history(history, HistoryEntry(period, length))
    else:
        length, covered, extended_at = best.length, before, best.last_extended_at
        if any(h.period == period for h in history):
            history = _put_history(history, HistoryEntry(period, length))
    restored = replace(
        state,
        length=length,
        started=best.started,
        covered=covered,
        last_extended_at=extended_at,
        history=history,
    )
    return Step(restored, step.effects)


# --- reads -------------------------------------------------------------------------------


def expires(state: StreakState, settings: StreakSettings) -> dt.date | None:
    """Last local date on which the streak can still be extended: the end of the period
    after P, skipping periods a pause or a day off will excuse (freezes are not counted)."""
    if state.length == 0 or state.covered is None or not settings.enabled:
        return None
    period = next_period(state.covered, state.frequency)
    # Terminates: pauses are finite and at most 6 weekdays are days off.
    while any(p.overlaps(period) for p in state.pauses) or is_day_off(period, settings):
        period = next_period(period, state.frequency)
    return period.end


def view(state: StreakState, settings: StreakSettings, now: dt.datetime) -> StreakView:
    """BaseStreakResponse values at `now`."""
    state = catch_up(state, settings, now).state
    f = settings.freezes
    auto = f is not None and f.auto_earn
    active = settings.enabled and state.length > 0 and state.covered is not None
    covered = state.covered if active else None
    return StreakView(
        length=state.length if active else 0,
        frequency=state.frequency,
        started=state.started if active else None,
        period_start=covered.start if covered else None,
        period_end=covered.end if covered else None,
        expires=expires(state, settings) if active else None,
        extended_at=state.last_extended_at if active else None,
        freezes=state.freezes if f is not None else None,
        max_freezes=f.max_count if f is not None else None,
        freeze_auto_earn_interval=f.auto_earn_interval if auto and f is not None else None,
        freeze_auto_earn_amount=f.auto_earn_amount if auto and f is not None else None,
    )


def history(
    state: StreakState, settings: StreakSettings, count: int, now: dt.datetime
) -> tuple[HistoryEntry, ...]:
    """`count` periods ending with the open one, oldest first (streakHistory). Periods
    outside any streak have length 0; the open period carries the running length."""
    state = catch_up(state, settings, now).state
    recorded = {h.period: h for h in state.history}
    period = current_period(state, settings)
    entries: list[HistoryEntry] = []
    for index in range(count):
        entry = recorded.get(period)
        if entry is None:
            carried = state.length if index == 0 and settings.enabled else 0
            entry = HistoryEntry(period, carried)
        elif not settings.enabled:
            entry = replace(entry, length=0)
        entries.append(entry)
        period = previous_period(period, state.frequency)
    return tuple(reversed(entries))
