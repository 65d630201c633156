"""Points on the event path and at the other moments triggers fire.

Event path (`after_events`, called by the pipeline after streaks and achievements): per
event, in arrival order, the metric triggers (high-water marks), then the achievement
triggers of the achievements the event completed, then the streak triggers of the
extension it made. Marks and balances of the batch's users are read in one statement,
and everything the batch changed is written in one more (`store`).

Elsewhere: `user_creation` triggers when a user is created, achievement triggers when an
achievement is completed through the API, and time triggers in the sweep; those awards
also reach `hooks.AWARD_HOOKS`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion
from plaudit.achievements.completion import Completed
from plaudit.platform.config import ScopeConfig
from plaudit.points import hooks, rules
from plaudit.points.ledger import Entry, Firing, Ledger, record_elsewhere
from plaudit.points.tables import points_timers
from plaudit.streaks import service as streaks
from plaudit.users.rules import UserState

_COLLECTING = "plaudit_points_collecting"
_LAST_ENTRIES = "plaudit_points_entries"


@dataclass(frozen=True, slots=True)
class EventFacts:
    user: UserState
    event_id: uuid.UUID | None
    metric_id: uuid.UUID
    value: int  # millionths
    attributes: dict[str, str] | None
    completed: Sequence[Completed] = ()
    streak_length: int | None = None  # the new length when this event extended the streak


@dataclass(slots=True)
class EventPoints:
    """One event's effect on points: its awards (for the leaderboards) and the event
    response's `points` map (only the systems it changed)."""

    awards: list[hooks.Award] = field(default_factory=list)
    response: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextmanager
def collecting(conn: AsyncConnection) -> Iterator[None]:
    """While the pipeline runs, completions and streak extensions are left to
    `after_events` (which puts them in the event's response) instead of awarding at once."""
    conn.info[_COLLECTING] = True
    try:
        yield
    finally:
        conn.info.pop(_COLLECTING, None)


def _achievement_firings(
    config: ScopeConfig, user: UserState, done: Sequence[Completed]
) -> list[Firing]:
    firings = []
    for c in done:
        for trigger in config.points.achievement_triggers.get(c.achievement.id, ()):
            if rules.matches(trigger.user_filters, user.attributes):
                firings.append(Firing(trigger))
    return firings


def _streak_firings(config: ScopeConfig, user: UserState, length: int) -> list[Firing]:
    return [
        Firing(t)
        for t in config.points.streak_triggers
        if t.streak_length
        and length > 0
        and length % t.streak_length == 0
        and rules.matches(t.user_filters, user.attributes)
    ]


def _event_matches(filters: tuple[tuple[str, str], ...], attributes: dict[str, str] | None) -> bool:
    return rules.matches(filters, attributes)


async def after_events(
    conn: AsyncConnection, config: ScopeConfig, facts: Sequence[EventFacts], now: dt.datetime
) -> list[EventPoints]:
    results = [EventPoints() for _ in facts]
    points = config.points
    if not points.systems:
        return results
    # Per event: its metric triggers (whose marks move even when nothing is awarded),
    # and its achievement and streak firings.
    stepping = [
        [
            t
            for t in points.metric_triggers.get(f.metric_id, ())
            if _event_matches(t.event_filters, f.attributes)
        ]
        for f in facts
    ]
    others = [
        _achievement_firings(config, f.user, f.completed)
        + (_streak_firings(config, f.user, f.streak_length) if f.streak_length is not None else [])
        for f in facts
    ]
    involved = [
        f.user.pk
        for f, metric, other in zip(facts, stepping, others, strict=True)
        if (metric or other) and f.user.pk is not None
    ]
    if not involved:
        return results
    ledger = Ledger(config, now)
    marks = await ledger.load(conn, involved)
    for f, metric, other, result in zip(facts, stepping, others, results, strict=True):
        assert f.user.pk is not None
        firings: list[Firing] = []
        for t in metric:
            assert t.metric_threshold is not None
            key = (f.user.pk, t.id)
            new, crossed = rules.metric_step(
                marks.get(key, rules.Marks()), f.value, t.metric_threshold
            )
            marks[key] = ledger.marks[key] = new
            if crossed and rules.matches(t.user_filters, f.user.attributes):
                firings.append(Firing(t, crossed))
        firings += other
        if not firings:
            continue
        before = len(ledger.recorded)
        entries = ledger.apply(f.user, firings, event_id=f.event_id)
        result.awards = [
            hooks.Award(r.user, r.system.id, r.awarded, r.at) for r in ledger.recorded[before:]
        ]
        result.response = _response(config, entries, now)
    await ledger.flush(conn)
    return results


def _response(
    config: ScopeConfig, entries: dict[uuid.UUID, Entry], now: dt.datetime
) -> dict[str, dict[str, Any]]:
    return {e.system.key: e.wire(config, now) for e in entries.values()}


async def after_users_created(
    conn: AsyncConnection, config: ScopeConfig, created: Sequence[UserState], now: dt.datetime
) -> None:
    """`user_creation` awards, and the time triggers' clocks of the new users."""
    points = config.points
    if not points.systems:
        return
    if points.creation_triggers:
        await record_elsewhere(
            conn,
            config,
            [
                (
                    user,
                    [
                        Firing(t)
                        for t in points.creation_triggers
                        if rules.matches(t.user_filters, user.attributes)
                    ],
                )
                for user in created
            ],
            now,
        )
    if points.time_triggers:
        rows = [
            {
                "user_pk": user.pk,
                "trigger_id": t.id,
                "scope_id": config.scope_id,
                "next_due": rules.next_due(
                    t.time_unit or "days",
                    t.time_interval or 1,
                    max(user.created, t.activated_at or user.created),
                    config.user_zone(user.tz),
                ),
            }
            for user in created
            for t in points.time_triggers
        ]
        await conn.execute(points_timers.insert(), rows)


async def _on_completions(
    conn: AsyncConnection, config: ScopeConfig, done: Sequence[Completed], now: dt.datetime
) -> None:
    """Achievement triggers for completions outside the event pipeline (API, cascades of
    API completions); backdated completions never reach here."""
    if conn.info.get(_COLLECTING) or not config.points.achievement_triggers:
        return
    by_user: dict[int, tuple[UserState, list[Completed]]] = {}
    for c in done:
        assert c.user.pk is not None
        by_user.setdefault(c.user.pk, (c.user, []))[1].append(c)
    results = await record_elsewhere(
        conn,
        config,
        [(user, _achievement_firings(config, user, items)) for user, items in by_user.values()],
        now,
    )
    captured: dict[str, dict[str, Any]] | None = conn.info.get(_LAST_ENTRIES)
    if captured is not None:
        for entries in results:
            captured.update(_response(config, entries, now))


@contextmanager
def capturing(conn: AsyncConnection) -> Iterator[dict[str, dict[str, Any]]]:
    """The `points` map of the awards made inside the block outside the pipeline (for the
    completion response). Only a block asks: nothing is left on the pooled connection."""
    captured: dict[str, dict[str, Any]] = {}
    conn.info[_LAST_ENTRIES] = captured
    try:
        yield captured
    finally:
        conn.info.pop(_LAST_ENTRIES, None)


async def _on_streak(
    conn: AsyncConnection, config: ScopeConfig, user: UserState, length: int, now: dt.datetime
) -> None:
    """Streak triggers for extensions outside the event pipeline; the pipeline's own are
    in the event's response (`after_events`)."""
    if conn.info.get(_COLLECTING) or not config.points.streak_triggers:
        return
    await record_elsewhere(conn, config, [(user, _streak_firings(config, user, length))], now)


completion.COMPLETION_HOOKS.append(_on_completions)
streaks.EXTENSION_HOOKS.append(_on_streak)
