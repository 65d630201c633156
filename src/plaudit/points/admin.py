"""Admin API for points systems (bulk, with issues), created with their levels, triggers
and boosts when the item nests them.

Deleting archives: an archived system disappears from every read and its triggers stop
firing, balances and awards stay; an archived trigger stays visible inside old awards.
Activating a trigger starts it from zero: metric progress and time intervals count from
that moment (no retroactive awards).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.config import ScopeConfig
from plaudit.points import admin_boosts, admin_levels, admin_triggers
from plaudit.points.admin_common import SYSTEM, Invalid, system_wire, validate
from plaudit.points.schemas import (
    CreateBoost,
    CreateLevel,
    CreateSystem,
    CreateTrigger,
    UpdateSystem,
)
from plaudit.points.tables import (
    points_boosts,
    points_levels,
    points_systems,
    points_timers,
    points_triggers,
)

CLEARABLE = {
    "description",
    "badge",
    "max_points",
}  # null clears these; other fields may not be null


async def create_systems(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[tuple[int, CreateSystem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    created = []
    for index, item in items:
        try:
            async with conn.begin_nested():
                created.append(await _create_system(conn, config, item, now))
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
    return created


async def _create_system(
    conn: AsyncConnection, config: ScopeConfig, item: CreateSystem, now: dt.datetime
) -> dict[str, Any]:
    taken = await conn.scalar(
        select(points_systems.c.id).where(
            points_systems.c.scope_id == config.scope_id,
            points_systems.c.key == item.key,
            points_systems.c.status == "active",
        )
    )
    if taken is not None:
        raise Invalid(f"Key '{item.key}' is already used by another points system")
    system_id = new_id()
    await conn.execute(
        insert(points_systems).values(
            id=system_id,
            scope_id=config.scope_id,
            key=item.key,
            name=item.name,
            description=item.description,
            badge_url=item.badge.url if item.badge else None,
            max_points=item.max_points,
            status="active",
            created=now,
            updated=now,
        )
    )
    row = (await conn.execute(select(points_systems).where(points_systems.c.id == system_id))).one()
    body = system_wire(row)
    nested: list[tuple[str, type[BaseModel], Any]] = [
        ("levels", CreateLevel, admin_levels.create_levels),
        ("triggers", CreateTrigger, admin_triggers.create_triggers),
        ("boosts", CreateBoost, admin_boosts.create_boosts),
    ]
    for name, model, creator in nested:
        raw_items = getattr(item, name)
        if raw_items is None:
            continue
        parsed = []
        for position, raw in enumerate(raw_items):
            try:
                parsed.append((position, validate(model, raw)))
            except Invalid as exc:
                raise Invalid(f"{name}[{position}]: {exc}") from None
        inner: list[AdminIssue] = []
        made = await creator(conn, config, row, parsed, inner, now)
        if inner:
            raise Invalid(f"{name}[{inner[0].index}]: {inner[0].message}")
        body[name] = made
    return body


async def update_systems(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, UpdateSystem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    updated = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = await admin_crud.find_active(conn, points_systems, scope_id, item_id)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{SYSTEM} not found by ID")
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
            values["description"] = item.description
        if "badge" in sent:
            values["badge_url"] = item.badge.url if item.badge else None
        if "max_points" in sent:
            values["max_points"] = item.max_points
        await conn.execute(
            update(points_systems).where(points_systems.c.id == item_id).values(**values)
        )
        fresh = (
            await conn.execute(select(points_systems).where(points_systems.c.id == item_id))
        ).one()
        updated.append(system_wire(fresh))
    return updated


async def archive_systems(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted, issues = await admin_crud.archive(
        conn, points_systems, scope_id, raw_ids, thing=SYSTEM, now=now, references=[]
    )
    for item in deleted:
        triggers = select(points_triggers.c.id).where(
            points_triggers.c.system_id == uuid.UUID(item.id)
        )
        await conn.execute(delete(points_timers).where(points_timers.c.trigger_id.in_(triggers)))
        await conn.execute(
            update(points_boosts)
            .where(points_boosts.c.system_id == uuid.UUID(item.id))
            .values(announce_at=None, announce=None)
        )
    return deleted, issues


async def list_children(
    conn: AsyncConnection, table: Any, system: Any, *, limit: int, skip: int
) -> list[Any]:
    live = table.c.status != "archived"
    order = (
        (table.c.points, table.c.id) if table is points_levels else (table.c.created, table.c.id)
    )
    return list(
        await conn.execute(
            select(table)
            .where(table.c.system_id == system.id, live)
            .order_by(*order)
            .limit(limit)
            .offset(skip)
        )
    )


async def get_child(conn: AsyncConnection, table: Any, system: Any, raw_id: str, thing: str) -> Any:
    item_id = admin_crud.path_uuid(raw_id, thing)
    row = (
        await conn.execute(
            select(table).where(
                table.c.id == item_id, table.c.system_id == system.id, table.c.status != "archived"
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"{thing} not found")
    return row
