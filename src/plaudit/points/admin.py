"""Admin API for points systems and their triggers, levels and boosts (bulk, with issues).

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

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.bulk import issue_text
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource, format_number
from plaudit.platform.config import ScopeConfig
from plaudit.points import rules
from plaudit.points.config import boost_from_row
from plaudit.points.schemas import (
    CreateBoost,
    CreateLevel,
    CreateSystem,
    CreateTrigger,
    UpdateBoost,
    UpdateLevel,
    UpdateSystem,
    UpdateTrigger,
)
from plaudit.points.tables import (
    points_boosts,
    points_levels,
    points_marks,
    points_systems,
    points_timers,
    points_triggers,
)
from plaudit.users.tables import users

SYSTEM = "Points system"
TRIGGER = "Points trigger"
LEVEL = "Points level"
BOOST = "Points boost"

REQUIRED = {
    "metric": ("metric_id", "metric_threshold"),
    "achievement": ("achievement_id",),
    "streak": ("streak_length",),
    "time": ("time_unit", "time_interval"),
    "user_creation": (),
}
OWNER = {
    "metric_id": "metric",
    "metric_threshold": "metric",
    "event_attributes": "metric",
    "achievement_id": "achievement",
    "streak_length": "streak",
    "time_unit": "time",
    "time_interval": "time",
}
WIRE = {
    "metric_id": "metricId",
    "metric_threshold": "metricThreshold",
    "event_attributes": "eventAttributes",
    "achievement_id": "achievementId",
    "streak_length": "streakLength",
    "time_unit": "timeUnit",
    "time_interval": "timeInterval",
    "user_attributes": "userAttributes",
}


class Invalid(Exception):
    """One item cannot be applied; the message becomes its issue."""


# ---- wire ---------------------------------------------------------------------------


def _badge(url: str | None) -> dict[str, str] | None:
    return {"url": url} if url else None


def system_wire(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "key": row.key,
        "description": row.description or "",
        "status": row.status,
        "badge": _badge(row.badge_url),
        "maxPoints": row.max_points,
    }


def trigger_wire(row: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row.id),
        "type": row.type,
        "points": row.points,
        "status": row.status,
        "userAttributes": list(row.user_attributes or []),
        "blockIfOutOfPoints": row.block_if_out_of_points,
    }
    if row.type == "metric":
        body["metricId"] = str(row.metric_id)
        body["metricThreshold"] = row.metric_threshold
        body["eventAttributes"] = list(row.event_attributes or [])
    elif row.type == "achievement":
        body["achievementId"] = str(row.achievement_id)
    elif row.type == "streak":
        body["streakLength"] = row.streak_length
    elif row.type == "time":
        body["timeUnit"] = row.time_unit
        body["timeInterval"] = row.time_interval
    return body


def level_wire(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "key": row.key,
        "points": row.points,
        "description": row.description,
        "badge": _badge(row.badge_url),
    }


def boost_status(row: Any, user_tz: str | None, config: ScopeConfig, now: dt.datetime) -> str:
    boost = boost_from_row(row, {})
    if row.user_pk is not None:
        return rules.local_status(boost, now, config.user_zone(user_tz))
    return rules.global_status(boost, now)


def boost_wire(
    row: Any, user_id: str | None, user_tz: str | None, config: ScopeConfig, now: dt.datetime
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row.id),
        "name": row.name,
        "status": boost_status(row, user_tz, config, now),
        "start": row.start.isoformat(),
        "end": row.end.isoformat() if row.end else None,
        "multiplier": format_number(row.multiplier),
        "rounding": row.rounding,
        "userId": user_id,
    }
    if row.user_pk is None:
        body["userAttributes"] = list(row.user_attributes or [])
    return body


# ---- shared checks ------------------------------------------------------------------


def _filters(items: Sequence[Any] | None, kind: str, config: ScopeConfig) -> list[dict[str, str]]:
    stored = []
    live = config.user_attribute_keys if kind == "user" else config.event_attribute_keys
    for item in items or ():
        attribute_id = parse_uuid(item.attribute_id)
        known = config.attributes_by_id.get(attribute_id) if attribute_id else None
        if known is None or known[1] != kind or known[0] not in live:
            raise Invalid(f"attributeId {item.attribute_id} is not an active {kind} attribute")
        stored.append({"attributeId": str(attribute_id), "attributeValue": item.attribute_value})
    return stored


def _validate(model: type[BaseModel], raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise Invalid("must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid("; ".join(issue_text(e) for e in exc.errors()[:3])) from None


async def live_system(conn: AsyncConnection, scope_id: int, raw_id: str) -> Any:
    """The system named in a path, or 404."""
    system_id = parse_uuid(raw_id)
    row = (
        None
        if system_id is None
        else (
            await conn.execute(
                select(points_systems).where(
                    points_systems.c.id == system_id,
                    points_systems.c.scope_id == scope_id,
                    points_systems.c.status == "active",
                )
            )
        ).first()
    )
    if row is None:
        raise NotFound(f"{SYSTEM} '{raw_id}' not found")
    return row


# ---- systems ------------------------------------------------------------------------


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
        ("levels", CreateLevel, create_levels),
        ("triggers", CreateTrigger, create_triggers),
        ("boosts", CreateBoost, create_boosts),
    ]
    for name, model, creator in nested:
        raw_items = getattr(item, name)
        if raw_items is None:
            continue
        parsed = []
        for position, raw in enumerate(raw_items):
            try:
                parsed.append((position, _validate(model, raw)))
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


# ---- triggers -----------------------------------------------------------------------


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
        "user_attributes": _filters(fields.get("user_attributes"), "user", config),
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
            event_attributes=_filters(fields.get("event_attributes"), "event", config),
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
        activated = status == "active" and row.status != "active"
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
    current = trigger_wire(row)
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
    del current
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


# ---- levels -------------------------------------------------------------------------


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


# ---- boosts -------------------------------------------------------------------------


def _announce_values(
    row_like: Any, user_tz: str | None, config: ScopeConfig, now: dt.datetime, *, sent_started: bool
) -> dict[str, Any]:
    boost = boost_from_row(row_like, {})
    tz = config.user_zone(user_tz) if row_like.user_pk is not None else None
    _started, finished = rules.announcements(boost, tz)
    if finished is not None and finished <= now and not sent_started:
        return {"announce_at": None, "announce": None}  # over before anyone could hear of it
    at, kind = rules.next_announcement(boost, tz, "started" if sent_started else None)
    return {"announce_at": at, "announce": kind}


async def create_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, CreateBoost]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    created = []
    for index, item in items:
        try:
            user = None
            if item.multiplier == 1:
                raise Invalid("multiplier must not be 1")
            if item.end is not None and item.end < item.start:
                raise Invalid("end must not be before start")
            if item.user_id is not None and item.user_attributes is not None:
                raise Invalid("userAttributes cannot be set on a boost for one user (userId)")
            if item.user_id is not None:
                user = (
                    await conn.execute(
                        select(users.c.pk, users.c.tz).where(
                            users.c.scope_id == config.scope_id, users.c.id == item.user_id
                        )
                    )
                ).first()
                if user is None:
                    raise Invalid("User does not exist")
            filters = _filters(item.user_attributes, "user", config)
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
            continue
        values: dict[str, Any] = {
            "id": new_id(),
            "scope_id": config.scope_id,
            "system_id": system.id,
            "name": item.name,
            "start": item.start,
            "end": item.end,
            "multiplier": item.multiplier,
            "rounding": item.rounding or "down",
            "user_pk": user.pk if user else None,
            "user_attributes": filters,
            "status": "live",
            "created": now,
            "updated": now,
        }
        values.update(
            _announce_values(
                _Row(values), user.tz if user else None, config, now, sent_started=False
            )
        )
        await conn.execute(insert(points_boosts).values(**values))
        row = (
            await conn.execute(select(points_boosts).where(points_boosts.c.id == values["id"]))
        ).one()
        created.append(boost_wire(row, item.user_id, user.tz if user else None, config, now))
    return created


class _Row:
    """Attribute access to a dict of column values (for functions that take rows)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


async def _boost_rows(
    conn: AsyncConnection, system_id: uuid.UUID, *, boost_id: uuid.UUID | None = None
) -> list[Any]:
    query = (
        select(points_boosts, users.c.id.label("user_id"), users.c.tz.label("user_tz"))
        .select_from(points_boosts.outerjoin(users, users.c.pk == points_boosts.c.user_pk))
        .where(points_boosts.c.system_id == system_id, points_boosts.c.status == "live")
        .order_by(points_boosts.c.created, points_boosts.c.id)
    )
    if boost_id is not None:
        query = query.where(points_boosts.c.id == boost_id)
    return list(await conn.execute(query))


async def update_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, UpdateBoost]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    updated = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        found = await _boost_rows(conn, system.id, boost_id=item_id)
        if not found:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{BOOST} not found by ID")
            )
            continue
        row = found[0]
        sent = set(item.model_fields_set) - {"id"}
        try:
            for name in sent:
                if getattr(item, name) is None and name not in ("end", "user_attributes"):
                    raise Invalid(f"{name} may not be null")
            values: dict[str, Any] = {
                name: getattr(item, name)
                for name in sent
                if name in ("name", "start", "end", "multiplier", "rounding")
            }
            if values.get("multiplier") == 1:
                raise Invalid("multiplier must not be 1")
            if "user_attributes" in sent:
                if row.user_pk is not None and item.user_attributes:
                    raise Invalid("userAttributes cannot be set on a boost for one user")
                values["user_attributes"] = _filters(item.user_attributes, "user", config)
            merged = {**row._mapping, **values}
            if merged["end"] is not None and merged["end"] < merged["start"]:
                raise Invalid("end must not be before start")
        except Invalid as exc:
            issues.append(AdminIssue(id=item.id, severity="error", message=str(exc)))
            continue
        sent_started = row.announce != "started"  # its start was announced already
        if "start" in values or "end" in values:
            values.update(
                _announce_values(_Row(merged), row.user_tz, config, now, sent_started=sent_started)
            )
        await conn.execute(
            update(points_boosts).where(points_boosts.c.id == item_id).values(**values, updated=now)
        )
        fresh = (await _boost_rows(conn, system.id, boost_id=item_id))[0]
        updated.append(boost_wire(fresh, fresh.user_id, fresh.user_tz, config, now))
    return updated


async def archive_boosts(
    conn: AsyncConnection, system: Any, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = parse_uuid(raw)
        done = None
        if item_id is not None:
            done = await conn.execute(
                update(points_boosts)
                .where(
                    points_boosts.c.id == item_id,
                    points_boosts.c.system_id == system.id,
                    points_boosts.c.status == "live",
                )
                .values(status="archived", announce_at=None, announce=None, updated=now)
            )
        if done is None or not done.rowcount:
            issues.append(
                AdminIssue(boost_id=raw, severity="error", message=f"{BOOST} not found by ID")
            )
            continue
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues


async def list_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    now: dt.datetime,
    *,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    rows = (await _boost_rows(conn, system.id))[skip : skip + limit]
    return [boost_wire(r, r.user_id, r.user_tz, config, now) for r in rows]


async def get_boost(
    conn: AsyncConnection, config: ScopeConfig, system: Any, raw_id: str, now: dt.datetime
) -> dict[str, Any]:
    item_id = admin_crud.path_uuid(raw_id, BOOST)
    found = await _boost_rows(conn, system.id, boost_id=item_id)
    if not found:
        raise NotFound(f"{BOOST} not found")
    return boost_wire(found[0], found[0].user_id, found[0].user_tz, config, now)


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
