"""Metrics and attributes that a live points trigger or boost uses cannot be deleted."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.references import ATTRIBUTE_REFERENCES, METRIC_REFERENCES
from plaudit.points.tables import points_boosts, points_systems, points_triggers


async def _triggers(conn: AsyncConnection, scope_id: int) -> list[Any]:
    return list(
        await conn.execute(
            select(
                points_systems.c.key,
                points_triggers.c.metric_id,
                points_triggers.c.user_attributes,
                points_triggers.c.event_attributes,
            )
            .select_from(
                points_triggers.join(
                    points_systems, points_systems.c.id == points_triggers.c.system_id
                )
            )
            .where(
                points_triggers.c.scope_id == scope_id,
                points_triggers.c.status != "archived",
                points_systems.c.status == "active",
            )
        )
    )


async def metric_in_use(conn: AsyncConnection, scope_id: int, metric_id: uuid.UUID) -> str | None:
    for row in await _triggers(conn, scope_id):
        if row.metric_id == metric_id:
            return f"a trigger of points system '{row.key}'"
    return None


async def attribute_in_use(
    conn: AsyncConnection, scope_id: int, attribute_id: uuid.UUID
) -> str | None:
    wanted = str(attribute_id)
    for row in await _triggers(conn, scope_id):
        filters = [*(row.user_attributes or []), *(row.event_attributes or [])]
        if any(f["attributeId"] == wanted for f in filters):
            return f"a trigger of points system '{row.key}'"
    boosts = await conn.execute(
        select(points_systems.c.key, points_boosts.c.user_attributes)
        .select_from(
            points_boosts.join(points_systems, points_systems.c.id == points_boosts.c.system_id)
        )
        .where(
            points_boosts.c.scope_id == scope_id,
            points_boosts.c.status == "live",
            points_systems.c.status == "active",
        )
    )
    for row in boosts:
        if any(f["attributeId"] == wanted for f in row.user_attributes or []):
            return f"a boost of points system '{row.key}'"
    return None


METRIC_REFERENCES.append(metric_in_use)
ATTRIBUTE_REFERENCES.append(attribute_in_use)
