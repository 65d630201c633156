"""Completing achievements: during events, by API call, on streaks, and by re-evaluation.

A completion is an insert that does nothing when the (achievement, user) pair exists: the
unique index makes "at most once, forever" hold for parallel events, API calls and
backdating alike, and only the caller whose insert won reports (and announces) it.
Events cost no extra query unless they cross a threshold.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import rules, views
from plaudit.achievements.rules import AchievementConfig
from plaudit.achievements.tables import achievement_completions
from plaudit.core import fastsql
from plaudit.core.db import insert_for, json_text
from plaudit.core.fastsql import FastStatement
from plaudit.core.ids import new_id
from plaudit.events.tables import events
from plaudit.platform.config import ScopeConfig
from plaudit.users.rules import UserState
from plaudit.users.service import to_wire as user_wire
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted


@dataclass(frozen=True, slots=True)
class Completed:
    achievement: AchievementConfig
    completion_id: uuid.UUID
    achieved_at: dt.datetime
    user: UserState


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the achievements need to know about one recorded event."""

    user: UserState
    metric_id: uuid.UUID
    value: int
    attributes: dict[str, str] | None
    total: int  # the user's metric total right after this event


CompletionHook = Callable[
    [AsyncConnection, ScopeConfig, Sequence[Completed], dt.datetime], Awaitable[None]
]
# Features that act when achievements are completed (the points feature's achievement
# triggers) append here; each runs in the completing transaction, never for backdating.
COMPLETION_HOOKS: list[CompletionHook] = []


_INSERT = FastStatement(
    lambda dialect: (
        insert_for(dialect, achievement_completions)
        .on_conflict_do_nothing(index_elements=["achievement_id", "user_pk"])
        .returning(
            achievement_completions.c.id,
            achievement_completions.c.achievement_id,
            achievement_completions.c.user_pk,
            achievement_completions.c.achieved_at,
        )
    )
)


async def insert_completions(
    conn: AsyncConnection,
    scope_id: int,
    pairs: Sequence[tuple[uuid.UUID, int]],
    now: dt.datetime,
    *,
    backdated: bool,
) -> dict[tuple[uuid.UUID, int], tuple[uuid.UUID, dt.datetime]]:
    """Insert (achievement, user_pk) completions; returns only those that are new."""
    if not pairs:
        return {}
    rows = [
        {
            "id": new_id(),
            "scope_id": scope_id,
            "achievement_id": achievement_id,
            "user_pk": user_pk,
            "achieved_at": now,
            "backdated": backdated,
        }
        for achievement_id, user_pk in dict.fromkeys(pairs)
    ]
    inserted = await fastsql.fetch_rows(conn, _INSERT, rows)
    return {(r["achievement_id"], r["user_pk"]): (r["id"], r["achieved_at"]) for r in inserted}


async def completion_id(
    conn: AsyncConnection, achievement_id: uuid.UUID, user_pk: int
) -> uuid.UUID:
    found: uuid.UUID = (
        await conn.execute(
            select(achievement_completions.c.id).where(
                achievement_completions.c.achievement_id == achievement_id,
                achievement_completions.c.user_pk == user_pk,
            )
        )
    ).scalar_one()
    return found


async def complete(
    conn: AsyncConnection,
    config: ScopeConfig,
    user: UserState,
    candidates: Sequence[AchievementConfig],
    now: dt.datetime,
    *,
    backdated: bool,
) -> list[Completed]:
    """Complete `candidates` for `user`, then every composite that completes in turn."""
    assert user.pk is not None
    new = await insert_completions(
        conn, config.scope_id, [(a.id, user.pk) for a in candidates], now, backdated=backdated
    )
    done = [Completed(a, *new[(a.id, user.pk)], user) for a in candidates if (a.id, user.pk) in new]
    if done and config.composites:
        already = await views.user_completions(conn, user.pk)
        cascaded = rules.cascade(
            config.composites, set(already), lambda a: rules.user_matches(a, user.attributes)
        )
        more = await insert_completions(
            conn, config.scope_id, [(a.id, user.pk) for a in cascaded], now, backdated=backdated
        )
        done += [
            Completed(a, *more[(a.id, user.pk)], user) for a in cascaded if (a.id, user.pk) in more
        ]
    if not backdated:
        await announce(conn, config, done, now)
        if done:
            for hook in COMPLETION_HOOKS:
                await hook(conn, config, done, now)
    return done


async def announce(
    conn: AsyncConnection, config: ScopeConfig, done: Sequence[Completed], now: dt.datetime
) -> None:
    """`achievement.completed` outbox rows (never for backdated completions)."""
    if not wanted(config.webhooks, "achievement.completed"):
        return
    await emit(
        conn,
        config.scope_id,
        [
            WebhookEvent(
                "achievement.completed",
                {
                    "user": user_wire(c.user).model_dump(mode="json", by_alias=True),
                    "achievement": views.user_achievement(
                        config, c.achievement, c.achieved_at
                    ).model_dump(mode="json", by_alias=True),
                },
            )
            for c in done
        ],
        now,
        interest=config.webhooks,
    )


async def after_events(
    conn: AsyncConnection, config: ScopeConfig, facts: Sequence[EventFacts], now: dt.datetime
) -> list[list[Completed]]:
    """Achievements completed by each recorded event, in order (metric, then composites)."""
    results: list[list[Completed]] = [[] for _ in facts]
    filtered_totals = await _filtered_totals(conn, config, facts)
    for index, fact in enumerate(facts):
        candidates = []
        for achievement in config.metric_achievements.get(fact.metric_id, ()):
            if not rules.user_matches(achievement, fact.user.attributes):
                continue
            assert achievement.metric_value is not None
            if achievement.event_filters:
                if not rules.event_matches(achievement, fact.attributes):
                    continue
                after = filtered_totals[(index, achievement.id)]
                before = after - fact.value
            else:
                after, before = fact.total, fact.total - fact.value
            if rules.crossed(achievement.metric_value, before, after):
                candidates.append(achievement)
        if candidates:
            results[index] = await complete(
                conn, config, fact.user, candidates, now, backdated=False
            )
    return results


async def _filtered_totals(
    conn: AsyncConnection, config: ScopeConfig, facts: Sequence[EventFacts]
) -> dict[tuple[int, uuid.UUID], int]:
    """For event-filtered achievements matched by an event: the filtered total after it.

    One sum over the user's matching events per (user, achievement); within a batch the
    earlier events' values are found by subtracting the later matching ones."""
    groups: dict[tuple[int, uuid.UUID], list[int]] = defaultdict(list)
    for index, fact in enumerate(facts):
        for achievement in config.metric_achievements.get(fact.metric_id, ()):
            if achievement.event_filters and rules.event_matches(achievement, fact.attributes):
                assert fact.user.pk is not None
                groups[(fact.user.pk, achievement.id)].append(index)
    found: dict[tuple[int, uuid.UUID], int] = {}
    for (user_pk, achievement_id), indexes in groups.items():
        total = await _filtered_sum(conn, config.achievements_by_id[achievement_id], user_pk)
        for index in reversed(indexes):
            found[(index, achievement_id)] = total
            total -= facts[index].value
    return found


async def _filtered_sum(conn: AsyncConnection, achievement: AchievementConfig, user_pk: int) -> int:
    """The user's total over the events that match every event filter of `achievement`."""
    conditions = [events.c.user_pk == user_pk, events.c.metric_id == achievement.metric_id]
    conditions += [
        json_text(events.c.attributes, key, conn.dialect.name) == value
        for key, value in achievement.event_filters
    ]
    query = select(func.coalesce(func.sum(events.c.value), 0)).where(and_(*conditions))
    return int(await conn.scalar(query) or 0)


async def reevaluate(
    conn: AsyncConnection,
    config: ScopeConfig,
    user: UserState,
    metric_totals: dict[uuid.UUID, int],
    now: dt.datetime,
) -> list[Completed]:
    """Everything `user` already qualifies for but has not completed (after their attributes
    or signUpDate changed); such completions are backdated, like activation's."""
    candidates = []
    for achievement in config.achievements:
        if not achievement.completable or not rules.user_matches(achievement, user.attributes):
            continue
        if achievement.trigger == "metric":
            assert user.pk is not None
            reached = (
                await _filtered_sum(conn, achievement, user.pk)
                if achievement.event_filters
                else metric_totals.get(achievement.metric_id or uuid.UUID(int=0), 0)
            )
            if reached >= (achievement.metric_value or 0):
                candidates.append(achievement)
        elif achievement.trigger == "anniversary" and anniversary_reached(
            achievement, user, config, now
        ):
            candidates.append(achievement)
    return await complete(conn, config, user, candidates, now, backdated=True)


def anniversary_reached(
    achievement: AchievementConfig, user: UserState, config: ScopeConfig, now: dt.datetime
) -> bool:
    if user.sign_up_date is None or achievement.anniversary_years is None:
        return False
    due = rules.anniversary_due(
        user.sign_up_date, achievement.anniversary_years, config.user_zone(user.tz)
    )
    return due <= now


async def on_streak(
    conn: AsyncConnection, config: ScopeConfig, user: UserState, length: int, now: dt.datetime
) -> list[Completed]:
    """Streak achievements reached by a streak of `length` (called when a streak extends)."""
    candidates = [
        a
        for a in config.achievements
        if a.trigger == "streak"
        and a.completable
        and a.streak_length is not None
        and a.streak_length <= length
        and rules.user_matches(a, user.attributes)
    ]
    return await complete(conn, config, user, candidates, now, backdated=False)
