"""Metrics and attributes that a live achievement uses cannot be deleted."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements.tables import achievements
from plaudit.core.references import ATTRIBUTE_REFERENCES, METRIC_REFERENCES


async def _live(conn: AsyncConnection, scope_id: int) -> list[object]:
    return list(
        await conn.execute(
            select(
                achievements.c.name,
                achievements.c.metric_id,
                achievements.c.user_attributes,
                achievements.c.event_attributes,
            ).where(achievements.c.scope_id == scope_id, achievements.c.status != "archived")
        )
    )


async def metric_in_use(conn: AsyncConnection, scope_id: int, metric_id: uuid.UUID) -> str | None:
    for row in await _live(conn, scope_id):
        if row.metric_id == metric_id:  # type: ignore[attr-defined]
            return f"achievement '{row.name}'"  # type: ignore[attr-defined]
    return None


async def attribute_in_use(
    conn: AsyncConnection, scope_id: int, attribute_id: uuid.UUID
) -> str | None:
    wanted = str(attribute_id)
    for row in await _live(conn, scope_id):
        filters = [*(row.user_attributes or []), *(row.event_attributes or [])]  # type: ignore[attr-defined]
        if any(f["attributeId"] == wanted for f in filters):
            return f"achievement '{row.name}'"  # type: ignore[attr-defined]
    return None


METRIC_REFERENCES.append(metric_in_use)
ATTRIBUTE_REFERENCES.append(attribute_in_use)
