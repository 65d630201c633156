"""How achievements look on the Application API, with completion stats."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import rules
from plaudit.achievements.rules import AchievementConfig
from plaudit.achievements.schemas import (
    AchievementWithStatsResponse,
    KeyValue,
    UserAchievementResponse,
    UserAchievementWithStatsResponse,
)
from plaudit.achievements.tables import achievement_completions
from plaudit.metrics.rules import from_micro
from plaudit.platform.config import ScopeConfig
from plaudit.users.tables import users


def user_achievement(
    config: ScopeConfig, achievement: AchievementConfig, achieved_at: dt.datetime | None
) -> UserAchievementResponse:
    a = achievement
    metric = config.metrics_by_id.get(a.metric_id) if a.metric_id else None
    event_filters = [KeyValue(key=k, value=v) for k, v in a.event_filters]
    return UserAchievementResponse(
        id=str(a.id),
        name=a.name,
        trigger=a.trigger,
        description=a.description,
        badge_url=a.badge_url,
        user_attributes=[KeyValue(key=k, value=v) for k, v in a.user_filters],
        key=a.key if a.trigger == "api" else None,
        streak_length=a.streak_length if a.trigger == "streak" else None,
        anniversary_years=a.anniversary_years if a.trigger == "anniversary" else None,
        achievement_ids=[str(i) for i in a.achievement_ids] if a.trigger == "achievement" else None,
        metric_id=str(a.metric_id) if a.trigger == "metric" else None,
        metric_value=from_micro(a.metric_value)
        if a.trigger == "metric" and a.metric_value is not None
        else None,
        metric_name=metric.name if metric else None,
        event_attribute=event_filters[0] if event_filters else None,
        event_attributes=event_filters if a.trigger == "metric" else None,
        achieved_at=achieved_at,
    )


def catalogue(config: ScopeConfig) -> list[AchievementConfig]:
    """Live achievements in listing order (see rules.catalogue_key)."""
    position = {m.id: i for i, m in enumerate(config.metrics_by_key.values())}
    return sorted(config.achievements, key=lambda a: rules.catalogue_key(a, position))


async def completion_counts(
    conn: AsyncConnection, achievement_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    ids = list(achievement_ids)
    if not ids:
        return {}
    rows = await conn.execute(
        select(achievement_completions.c.achievement_id, func.count())
        .where(achievement_completions.c.achievement_id.in_(ids))
        .group_by(achievement_completions.c.achievement_id)
    )
    return {row[0]: int(row[1]) for row in rows}


async def user_count(conn: AsyncConnection, scope_id: int) -> int:
    return int(
        await conn.scalar(
            select(func.count()).select_from(users).where(users.c.scope_id == scope_id)
        )
        or 0
    )


async def user_completions(conn: AsyncConnection, user_pk: int) -> dict[uuid.UUID, dt.datetime]:
    rows = await conn.execute(
        select(
            achievement_completions.c.achievement_id, achievement_completions.c.achieved_at
        ).where(achievement_completions.c.user_pk == user_pk)
    )
    return {row.achievement_id: row.achieved_at for row in rows}


async def with_stats(
    conn: AsyncConnection, config: ScopeConfig, listed: list[AchievementConfig]
) -> list[AchievementWithStatsResponse]:
    counts = await completion_counts(conn, (a.id for a in listed))
    population = await user_count(conn, config.scope_id)
    return [
        AchievementWithStatsResponse(
            **user_achievement(config, a, None).model_dump(exclude={"achieved_at"}),
            completions=counts.get(a.id, 0),
            rarity=rules.rarity(counts.get(a.id, 0), population),
        )
        for a in listed
    ]


async def for_user(
    conn: AsyncConnection,
    config: ScopeConfig,
    user_pk: int,
    user_attributes: dict[str, str],
    *,
    include_incomplete: bool,
) -> list[UserAchievementWithStatsResponse]:
    """Completed first (by time), then, on request, active ones the user could still unlock."""
    done = await user_completions(conn, user_pk)
    ordered = catalogue(config)
    completed = sorted((a for a in ordered if a.id in done), key=lambda a: (done[a.id], str(a.id)))
    listed: list[tuple[AchievementConfig, dt.datetime | None]] = [
        (a, done[a.id]) for a in completed
    ]
    if include_incomplete:
        listed += [
            (a, None)
            for a in ordered
            if a.id not in done and a.completable and rules.user_matches(a, user_attributes)
        ]
    counts = await completion_counts(conn, (a.id for a, _ in listed))
    population = await user_count(conn, config.scope_id)
    return [
        UserAchievementWithStatsResponse(
            **user_achievement(config, a, at).model_dump(),
            completions=counts.get(a.id, 0),
            rarity=rules.rarity(counts.get(a.id, 0), population),
        )
        for a, at in listed
    ]


def metric_progress(
    config: ScopeConfig,
    metric_id: uuid.UUID,
    done: dict[uuid.UUID, dt.datetime],
    user_attributes: dict[str, str],
) -> list[dict[str, object]]:
    """The metric's achievements a user can see (for MetricResponse), lowest threshold first."""
    visible = [
        a
        for a in config.achievements
        if a.trigger == "metric"
        and a.metric_id == metric_id
        and (a.id in done or (a.completable and rules.user_matches(a, user_attributes)))
    ]
    visible.sort(key=lambda a: (a.metric_value or 0, a.created))
    return [
        user_achievement(config, a, done.get(a.id)).model_dump(mode="json", by_alias=True)
        for a in visible
    ]
