"""Admin API for a system's levels: keys unique per system, thresholds unique too."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.ids import new_id
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.config import ScopeConfig
from plaudit.points.admin_common import LEVEL, level_wire
from plaudit.points.schemas import CreateLevel, UpdateLevel
from plaudit.points.tables import points_levels

CLEARABLE = {"badge"}  # null clears these; other fields may not be null


async def _live_levels(conn: AsyncConnection, system_id: uuid.UUID) -> list[Any]:
    return list(
        await conn.execute(
            select(points_levels)
            .where(points_levels.c.system_id == system_id, points_levels.c.status == "active")
            .order_by(points_levels.c.points, points_levels.c.id)
        )
    )


async def create_levels(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, CreateLevel]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    existing = await _live_levels(conn, system.id)
    keys = {r.key for r in existing}
    thresholds = {r.points for r in existing}
    created = []
    for index, item in items:
        if item.key in keys:
            issues.append(
                AdminIssue(
                    index=index,
                    severity="error",
                    message=f"Key '{item.key}' is already used by another level",
                )
            )
            continue
        if item.points in thresholds:
            issues.append(
                AdminIssue(
                    index=index,
                    severity="error",
                    message=f"Another level already has points {item.points}",
                )
            )
            continue
        level_id = new_id()
        await conn.execute(
            insert(points_levels).values(
                id=level_id,
                scope_id=config.scope_id,
                system_id=system.id,
                key=item.key,
                name=item.name,
                description=item.description or "",
                badge_url=item.badge.url if item.badge else None,
                points=item.points,
                status="active",
                created=now,
                updated=now,
            )
        )
        keys.add(item.key)
        thresholds.add(item.points)
        row = (
            await conn.execute(select(points_levels).where(points_levels.c.id == level_id))
        ).one()
        created.append(level_wire(row))
    return created


async def update_levels(
    conn: AsyncConnection,
    system: Any,
    items: Sequence[tuple[int, UpdateLevel]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    updated = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        existing = await _live_levels(conn, system.id)
        row = next((r for r in existing if r.id == item_id), None)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{LEVEL} not found by ID")
            )
            continue
        sent = item.model_fields_set
        nulls = sorted(n for n in sent - {"id"} if getattr(item, n) is None and n not in CLEARABLE)
        if nulls:
            message = f"{to_camel(nulls[0])} may not be null"
            issues.append(AdminIssue(id=item.id, severity="error", message=message))
            continue
        values: dict[str, Any] = {"updated": now}
        if "name" in sent and item.name is not None:
            values["name"] = item.name
        if "description" in sent:
            values["description"] = item.description or ""
        if "badge" in sent:
            values["badge_url"] = item.badge.url if item.badge else None
        if "points" in sent and item.points is not None:
            if any(r.points == item.points and r.id != item_id for r in existing):
                issues.append(
                    AdminIssue(
                        id=item.id,
                        severity="error",
                        message=f"Another level already has points {item.points}",
                    )
                )
                continue
            values["points"] = item.points
        await conn.execute(
            update(points_levels).where(points_levels.c.id == item_id).values(**values)
        )
        fresh = (
            await conn.execute(select(points_levels).where(points_levels.c.id == item_id))
        ).one()
        updated.append(level_wire(fresh))
    return updated


async def archive_levels(
    conn: AsyncConnection, system: Any, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = admin_crud.item_uuid(raw, issues)
        if item_id is None:
            continue
        done = await conn.execute(
            update(points_levels)
            .where(
                points_levels.c.id == item_id,
                points_levels.c.system_id == system.id,
                points_levels.c.status == "active",
            )
            .values(status="archived", updated=now)
        )
        if not done.rowcount:
            issues.append(AdminIssue(id=raw, severity="error", message=f"{LEVEL} not found by ID"))
            continue
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues
