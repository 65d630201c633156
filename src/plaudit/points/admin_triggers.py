"""Admin API for a system's triggers: created inactive unless asked; activating one starts
it from zero (metric progress and time intervals count from that moment)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.config import ScopeConfig
from plaudit.points import rules
from plaudit.points.admin_common import (
    OWNER,
    REQUIRED,
    TRIGGER,
    WIRE,
    Invalid,
    filters,
    trigger_wire,
)
from plaudit.points.schemas import CreateTrigger, UpdateTrigger
from plaudit.points.tables import points_marks, points_timers, points_triggers
from plaudit.users.tables import users


def _trigger_values(
    fields: dict[str, Any], present: set[str], config: ScopeConfig
) -> dict[str, Any]:
    kind = fields["type"]
    if fields["points"] == 0:
        raise Invalid("points must not be 0")
    missing = [WIRE[name] for name in REQUIRED[kind] if fields.get(name) is None]
    if missing:
        raise Invalid(f"{', '.join(missing)} is required for {kind} triggers")
    foreign = sorted(WIRE[n] for n in present if n in OWNER and OWNER[n] != kind)
    if foreign:
        raise Invalid(f"{', '.join(foreign)} is not allowed for {kind} triggers")
    values: dict[str, Any] = {
        "type": kind,
        "points": fields["points"],
        "user_attributes": filters(fields.get("user_attributes"), "user", config),
        "metric_id": None,
        "metric_threshold": None,
        "event_attributes": None,
        "achievement_id": None,
        "streak_length": None,
        "time_unit": None,
        "time_interval": None,
        "block_if_out_of_points": bool(fields.get("block_if_out_of_points")),
    }
    if kind == "metric":
        metric_id = parse_uuid(str(fields["metric_id"]))
        if metric_id is None or metric_id not in config.metrics_by_id:
            raise Invalid(f"metricId {fields['metric_id']} is not an active metric")
        values.update(
            metric_id=metric_id,
            metric_threshold=fields["metric_threshold"],
            event_attributes=filters(fields.get("event_attributes"), "event", config),
        )
    elif kind == "achievement":
        achievement_id = parse_uuid(str(fields["achievement_id"]))
        if achievement_id is None or achievement_id not in config.achievements_by_id:
            raise Invalid(f"achievementId {fields['achievement_id']} is not an achievement")
        values["achievement_id"] = achievement_id
    elif kind == "streak":
        values["streak_length"] = fields["streak_length"]
    elif kind == "time":
        values.update(time_unit=fields["time_unit"], time_interval=fields["time_interval"])
    return values


async def _activated(
    conn: AsyncConnection, config: ScopeConfig, row: Any, now: dt.datetime
) -> None:
    """A trigger became active: progress starts from zero, time intervals from now."""
    await conn.execute(delete(points_marks).where(points_marks.c.trigger_id == row.id))
    await conn.execute(delete(points_timers).where(points_timers.c.trigger_id == row.id))
    if row.type != "time":
        return
    people = await conn.execute(
        select(users.c.pk, users.c.created, users.c.tz).where(users.c.scope_id == config.scope_id)
    )
    timers = [
        {
            "user_pk": person.pk,
            "trigger_id": row.id,
            "scope_id": config.scope_id,
            "next_due": rules.next_due(
                row.time_unit,
                row.time_interval,
                max(person.created, now),
                config.user_zone(person.tz),
            ),
        }
        for person in people
    ]
    if timers:
        await conn.execute(insert(points_timers), timers)


async def _deactivated(conn: AsyncConnection, trigger_id: uuid.UUID) -> None:
    await conn.execute(delete(points_timers).where(points_timers.c.trigger_id == trigger_id))


async def create_triggers(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, CreateTrigger]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    created = []
    for index, item in items:
        fields = {name: getattr(item, name) for name in type(item).model_fields}
        present = {n for n in item.model_fields_set if getattr(item, n) is not None}
        try:
            values = _trigger_values(fields, present, config)
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
            continue
        status = item.status or "inactive"
        trigger_id = new_id()
        await conn.execute(
            insert(points_triggers).values(
                **values,
                id=trigger_id,
                scope_id=config.scope_id,
                system_id=system.id,
                status=status,
                activated_at=now if status == "active" else None,
                created=now,
                updated=now,
            )
        )
        row = (
            await conn.execute(select(points_triggers).where(points_triggers.c.id == trigger_id))
        ).one()
        if status == "active":
            await _activated(conn, config, row, now)
        created.append(trigger_wire(row))
    return created


async def update_triggers(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, UpdateTrigger]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    updated = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = (
            await conn.execute(
                select(points_triggers).where(
                    points_triggers.c.id == item_id,
                    points_triggers.c.system_id == system.id,
                    points_triggers.c.status != "archived",
                )
            )
        ).first()
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{TRIGGER} not found by ID")
            )
            continue
        try:
            values, status = _merge_trigger(row, item, config)
        except Invalid as exc:
            issues.append(AdminIssue(id=item.id, severity="error", message=str(exc)))
            continue
        # A live trigger whose counting changed starts again from zero, like an activation.
        recount = status == "active" and any(
            values[name] != getattr(row, name) for name in _COUNTING
        )
        activated = status == "active" and (row.status != "active" or recount)
        extra = {"activated_at": now} if activated else {}
        await conn.execute(
            update(points_triggers)
            .where(points_triggers.c.id == item_id)
            .values(**values, **extra, status=status, updated=now)
        )
        fresh = (
            await conn.execute(select(points_triggers).where(points_triggers.c.id == item_id))
        ).one()
        if activated:
            await _activated(conn, config, fresh, now)
        elif status != "active" and row.status == "active":
            await _deactivated(conn, item_id)
        updated.append(trigger_wire(fresh))
    return updated


_COUNTING = ("type", "metric_id", "event_attributes", "time_unit", "time_interval")


def _merge_trigger(
    row: Any, item: UpdateTrigger, config: ScopeConfig
) -> tuple[dict[str, Any], str]:
    sent = set(item.model_fields_set) - {"id"}
    clearable = {"user_attributes", "event_attributes"}
    for name in sent:
        if getattr(item, name) is None and name not in clearable:
            raise Invalid(f"{WIRE.get(name, name)} may not be null")
    kind = item.type or row.type
    if kind != row.type and row.status == "active":
        raise Invalid("type can only be changed while the trigger is inactive")
    fields: dict[str, Any] = {
        "type": kind,
        "points": item.points if "points" in sent else row.points,
        "block_if_out_of_points": item.block_if_out_of_points
        if "block_if_out_of_points" in sent
        else row.block_if_out_of_points,
    }
    fields["user_attributes"] = (
        item.user_attributes if "user_attributes" in sent else _as_filters(row.user_attributes)
    )
    present = {n for n in sent if getattr(item, n) is not None}
    for name, owner in OWNER.items():
        if name in sent:
            fields[name] = getattr(item, name)
        elif owner == kind == row.type:
            fields[name] = (
                _as_filters(row.event_attributes)
                if name == "event_attributes"
                else getattr(row, name)
            )
        else:
            fields[name] = None
    status = item.status or row.status
    return _trigger_values(fields, present, config), status


def _as_filters(stored: Any) -> list[Any]:
    from plaudit.achievements.schemas import AttributeFilter

    return [AttributeFilter.model_validate(f) for f in stored or []]


async def archive_triggers(
    conn: AsyncConnection, system: Any, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = admin_crud.item_uuid(raw, issues)
        if item_id is None:
            continue
        done = await conn.execute(
            update(points_triggers)
            .where(
                points_triggers.c.id == item_id,
                points_triggers.c.system_id == system.id,
                points_triggers.c.status != "archived",
            )
            .values(status="archived", updated=now)
        )
        if not done.rowcount:
            issues.append(
                AdminIssue(id=raw, severity="error", message=f"{TRIGGER} not found by ID")
            )
            continue
        await _deactivated(conn, item_id)
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues
