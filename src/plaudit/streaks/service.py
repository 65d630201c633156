"""Streaks on the event path, in the sweep and for reads: the rules applied to stored state.

Every caller holds the user's row locked (the pipeline's upsert, the sweep's claim), loads
the stored state with `store.load`, brings it to `now` with `current`, applies what
happened, and saves only what changed, with the next local midnight at which the sweep
must look at the user.

A user's state is created lazily, as of the user's creation: the initial freezes and the
auto-earn clock count from then, and what that first catch-up produces is silent. When the
scope's frequency changes, the user starts a streak of the new frequency from the current
period on (freezes, pauses and the auto-earn clock carry over).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion as achievements
from plaudit.achievements.completion import Completed
from plaudit.core.periods import add_periods
from plaudit.metrics.rules import to_micro
from plaudit.platform.config import ScopeConfig
from plaudit.streaks import rules, store
from plaudit.streaks.rules import StreakSettings, StreakState
from plaudit.streaks.store import Stored
from plaudit.users.rules import UserState
from plaudit.users.service import to_wire as user_wire
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted
from plaudit.webhooks.rules import Interest

MICRO = 1_000_000

ExtensionHook = Callable[
    [AsyncConnection, ScopeConfig, UserState, int, dt.datetime], Awaitable[None]
]
# Features that act when an event starts or extends a streak (the points feature's streak
# triggers) append here; each runs in the event's transaction with the new length.
EXTENSION_HOOKS: list[ExtensionHook] = []

LengthHook = Callable[
    [AsyncConnection, ScopeConfig, Sequence[tuple[UserState, int]], dt.datetime], Awaitable[None]
]
# Features that rank streak lengths (streak leaderboards) append here. An event reports its
# new length in the pipeline; every other change (a loss or freeze at the end of a period,
# an admin restore or reset) is handed to these hooks as (user, new length), in the
# transaction that makes it.
LENGTH_HOOKS: list[LengthHook] = []


async def lengths_changed(
    conn: AsyncConnection,
    config: ScopeConfig,
    changed: Sequence[tuple[UserState, int]],
    now: dt.datetime,
) -> None:
    if changed:
        for hook in LENGTH_HOOKS:
            await hook(conn, config, changed, now)


def effective_settings(
    config: ScopeConfig, preferences: dict[str, Any] | None
) -> StreakSettings | None:
    """The scope's streak settings with the user's preferences applied; None while the
    scope has no streak metric (streaks off)."""
    scope = config.streaks
    if not scope.enabled:
        return None
    freezes = scope.freezes
    settings = StreakSettings(
        frequency=scope.frequency,
        conditions=tuple(
            rules.Condition(config.metrics_by_id[metric_id].key, threshold * MICRO)
            for metric_id, threshold in scope.thresholds
        ),
        mode=scope.evaluation_mode,
        days_off=scope.days_off if scope.frequency == "daily" else frozenset(),
        freezes=None
        if freezes is None
        else rules.FreezeSettings(
            freezes.start_count,
            freezes.max_count,
            freezes.auto_earn_interval_days,
            freezes.auto_earn_amount,
        ),
        week_starts_on=config.week_starts_on,
    )
    prefs = preferences or {}
    metrics = prefs.get("metrics")
    days_off = prefs.get("daysOff") if scope.frequency == "daily" else None
    return rules.personalize(
        settings,
        customization_enabled=scope.customization_enabled,
        enabled=prefs.get("enabled"),
        evaluation_mode=prefs.get("evaluationMode"),
        metrics=None
        if metrics is None
        else [
            rules.Condition(m["key"], to_micro(m["threshold"]))
            for m in metrics
            if m["key"] in config.metrics_by_key
        ],
        days_off=days_off,
    )


def user_tz(config: ScopeConfig, user: UserState) -> str:
    return user.tz or config.settings.default_timezone


def current(
    stored: Stored, settings: StreakSettings, config: ScopeConfig, user: UserState, now: dt.datetime
) -> rules.Step:
    """The user's state at `now`, in the user's current time zone and the scope's frequency."""
    tz = user_tz(config, user)
    state = stored.state
    if state is None:
        created = rules.new_state(settings, tz, min(user.created, now))
        # A state made now for an older user: what it would have earned so far is silent.
        return rules.Step(rules.change_timezone(created, settings, tz, now).state)
    if state.frequency != settings.frequency:
        fresh = rules.new_state(settings, state.tz, now)
        state = replace(
            fresh, freezes=state.freezes, pauses=state.pauses, freeze_anchor=state.freeze_anchor
        )
    return rules.change_timezone(state, settings, tz, now)


@dataclass(slots=True)
class _Working:
    """One user's streak while a request or sweep works on it."""

    user: UserState
    stored: Stored
    settings: StreakSettings | None
    state: StreakState | None = None
    effects: list[rules.Effect] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StreakOutcome:
    """What one event did to its user's streak, for the event response."""

    extended: bool
    view: rules.StreakView | None  # None: streaks are off
    achievements: list[Completed]


async def after_events(
    conn: AsyncConnection,
    config: ScopeConfig,
    events: Sequence[tuple[UserState, str, int]],  # (user, metric key, value), in order
    now: dt.datetime,
) -> list[StreakOutcome]:
    """Streak effects of recorded events, in arrival order; saves and announces them."""
    if not config.streaks.enabled:
        return [StreakOutcome(False, None, []) for _ in events]
    pks = [user.pk for user, _, _ in events if user.pk is not None]
    loaded = await store.load(conn, pks)
    working: dict[int, _Working] = {}
    outcomes: list[StreakOutcome] = []
    for user, metric, value in events:
        assert user.pk is not None
        w = working.get(user.pk)
        if w is None:
            stored = loaded.get(user.pk, Stored(None, 0, None))
            w = working[user.pk] = _Working(
                user, stored, effective_settings(config, stored.preferences)
            )
            if w.settings is not None:
                step = current(stored, w.settings, config, user, now)
                w.state, w.effects = step.state, list(step.effects)
        if w.settings is None or w.state is None:
            outcomes.append(StreakOutcome(False, None, []))
            continue
        completed: list[Completed] = []
        if any(c.metric == metric for c in w.settings.conditions):
            step = rules.on_event(w.state, w.settings, metric, value, now)
            w.state = step.state
            w.effects.extend(step.effects)
            if step.extended:
                completed = await achievements.on_streak(conn, config, user, w.state.length, now)
                for hook in EXTENSION_HOOKS:
                    await hook(conn, config, user, w.state.length, now)
            extended = step.extended
        else:
            extended = False
        outcomes.append(StreakOutcome(extended, rules.view(w.state, w.settings, now), completed))
    await _finish(conn, config, list(working.values()), now)
    return outcomes


async def _finish(
    conn: AsyncConnection, config: ScopeConfig, working: Sequence[_Working], now: dt.datetime
) -> None:
    """Save the states that changed and write the outbox rows of their effects."""
    changes: list[store.Change] = []
    events: list[WebhookEvent] = []
    for w in working:
        if w.settings is None or w.state is None:
            continue
        assert w.user.pk is not None
        if w.state != w.stored.state:
            next_due = rules.next_due(w.state, w.settings, now)
            changes.append(store.Change(w.user.pk, w.state, w.stored.longest, next_due))
        if w.settings.enabled and w.effects:
            events += webhook_events(w.user, w.state, w.settings, w.effects, now, config.webhooks)
    await store.save_many(conn, config.scope_id, changes, now)
    await emit(conn, config.scope_id, events, now, interest=config.webhooks)


def base_streak(view: rules.StreakView) -> dict[str, Any]:
    """BaseStreakResponse as JSON (optional freeze fields only when they apply)."""
    body: dict[str, Any] = {
        "length": view.length,
        "frequency": view.frequency,
        "started": view.started.isoformat() if view.started else None,
        "periodStart": view.period_start.isoformat() if view.period_start else None,
        "periodEnd": view.period_end.isoformat() if view.period_end else None,
        "expires": view.expires.isoformat() if view.expires else None,
    }
    optional = {
        "freezes": view.freezes,
        "maxFreezes": view.max_freezes,
        "freezeAutoEarnInterval": view.freeze_auto_earn_interval,
        "freezeAutoEarnAmount": view.freeze_auto_earn_amount,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def _effect_type(effect: rules.Effect) -> str:
    if isinstance(effect, rules.StreakStarted):
        return "streak.started"
    if isinstance(effect, rules.StreakExtended):
        return "streak.extended"
    if isinstance(effect, rules.StreakLost):
        return "streak.lost"
    if isinstance(effect, rules.FreezeConsumed):
        return "streak.freeze_consumed"
    return "streak.freeze_earned"


def webhook_events(
    user: UserState,
    state: StreakState,
    settings: StreakSettings,
    effects: Sequence[rules.Effect],
    now: dt.datetime,
    interest: Interest | None,
) -> list[WebhookEvent]:
    """The events of `effects` whose types `interest` wants (the others are not built)."""
    who: dict[str, Any] | None = None
    out: list[WebhookEvent] = []
    for effect in effects:
        kind = _effect_type(effect)
        if not wanted(interest, kind):
            continue
        who = who or user_wire(user).model_dump(mode="json", by_alias=True)
        if isinstance(effect, rules.StreakStarted | rules.StreakExtended):
            streak = base_streak(rules.view(state, settings, now))
            out.append(WebhookEvent(kind, {"user": who, "streak": streak}))
        elif isinstance(effect, rules.StreakLost):
            out.append(WebhookEvent(kind, {"user": who, "length": effect.length}))
        elif isinstance(effect, rules.FreezeConsumed):
            payload = {"user": who, "consumed": 1, "freezes": effect.freezes}
            out.append(WebhookEvent(kind, payload))
        else:
            payload = {"user": who, "earned": effect.earned, "freezes": effect.freezes}
            out.append(WebhookEvent(kind, payload))
    return out


async def read(
    conn: AsyncConnection, config: ScopeConfig, users: Sequence[UserState], now: dt.datetime
) -> dict[int, tuple[StreakState, StreakSettings] | None]:
    """The users' streaks as of `now`, without writing anything (None: streaks are off)."""
    pks = [u.pk for u in users if u.pk is not None]
    loaded = await store.load(conn, pks) if config.streaks.enabled else {}
    result: dict[int, tuple[StreakState, StreakSettings] | None] = {}
    for user in users:
        assert user.pk is not None
        stored = loaded.get(user.pk, Stored(None, 0, None))
        settings = (
            effective_settings(config, stored.preferences) if config.streaks.enabled else None
        )
        if settings is None:
            result[user.pk] = None
            continue
        result[user.pk] = (current(stored, settings, config, user, now).state, settings)
    return result


async def with_history(
    conn: AsyncConnection,
    user_pk: int,
    state: StreakState,
    settings: StreakSettings,
    periods: int,
) -> StreakState:
    """`state` with the stored history of its last `periods` periods under what it holds."""
    open_period = rules.current_period(state, settings)
    unit = rules.UNITS[state.frequency]
    since = add_periods(open_period.start, unit, -(periods - 1))
    stored = {h.period: h for h in await store.load_history(conn, user_pk, since)}
    for entry in state.history:  # not saved yet: produced by catching up just now
        old = stored.get(entry.period)
        stored[entry.period] = (
            replace(entry, reset_at=old.reset_at) if old and entry.reset_at is None else entry
        )
    return replace(state, history=tuple(sorted(stored.values(), key=lambda h: h.period)))
