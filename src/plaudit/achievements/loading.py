"""Reading achievement definitions into their in-memory form (for the config snapshot)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements.rules import AchievementConfig
from plaudit.achievements.tables import achievements


def _filters(
    stored: Any, attributes_by_id: Mapping[uuid.UUID, tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in stored or ():
        found = attributes_by_id.get(uuid.UUID(item["attributeId"]))
        if found is not None:
            pairs.append((found[0], item["attributeValue"]))
    return tuple(pairs)


def to_config(row: Any, attributes_by_id: Mapping[uuid.UUID, tuple[str, str]]) -> AchievementConfig:
    return AchievementConfig(
        id=row.id,
        name=row.name,
        description=row.description,
        badge_url=row.badge_url,
        trigger=row.trigger,
        status=row.status,
        key=row.key,
        metric_id=row.metric_id,
        metric_value=row.metric_value,
        streak_length=row.streak_length,
        anniversary_years=row.anniversary_years,
        achievement_ids=tuple(uuid.UUID(i) for i in row.achievement_ids or ()),
        user_filters=_filters(row.user_attributes, attributes_by_id),
        event_filters=_filters(row.event_attributes, attributes_by_id),
        created=row.created,
        updated=row.updated,
    )


async def load_live_achievements(
    conn: AsyncConnection, scope_id: int, attributes_by_id: Mapping[uuid.UUID, tuple[str, str]]
) -> tuple[AchievementConfig, ...]:
    rows = await conn.execute(
        select(achievements)
        .where(achievements.c.scope_id == scope_id, achievements.c.status.in_(("active", "locked")))
        .order_by(achievements.c.created, achievements.c.id)
    )
    return tuple(to_config(row, attributes_by_id) for row in rows)
