"""Reading leaderboard definitions into their in-memory form (for the config snapshot)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.leaderboards.rules import LeaderboardConfig
from plaudit.leaderboards.tables import leaderboards

VISIBLE = ("scheduled", "active", "finished")


def to_config(row: Any, attributes_by_id: Mapping[uuid.UUID, tuple[str, str]]) -> LeaderboardConfig:
    breakdown = []
    for raw in row.breakdown_attributes or ():
        attribute_id = uuid.UUID(raw)
        found = attributes_by_id.get(attribute_id)
        if found is not None:
            breakdown.append((attribute_id, found[0]))
    filters = []
    for item in row.user_attributes or ():
        found = attributes_by_id.get(uuid.UUID(item["attributeId"]))
        if found is not None:
            filters.append((found[0], item["attributeValue"]))
    return LeaderboardConfig(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        status=row.status,
        rank_by=row.rank_by,
        metric_id=row.metric_id,
        points_system_id=row.points_system_id,
        max_participants=row.max_participants,
        start=row.start,
        end=row.end,
        start_time=row.start_time,
        end_time=row.end_time,
        breakdown=tuple(breakdown),
        user_filters=tuple(filters),
        run_unit=row.run_unit,
        run_interval=row.run_interval,
        created=row.created,
    )


async def load_visible_leaderboards(
    conn: AsyncConnection, scope_id: int, attributes_by_id: Mapping[uuid.UUID, tuple[str, str]]
) -> tuple[LeaderboardConfig, ...]:
    rows = await conn.execute(
        select(leaderboards)
        .where(leaderboards.c.scope_id == scope_id, leaderboards.c.status.in_(VISIBLE))
        .order_by(leaderboards.c.created, leaderboards.c.id)
    )
    return tuple(to_config(row, attributes_by_id) for row in rows)
