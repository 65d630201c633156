"""Admin API for achievements: definitions in the SDK 1.27.0 shape.

Creating or editing checks every reference against the scope (metrics, attributes of the
right type, prerequisite achievements, no cycles). Activating an achievement, or editing
a live one, queues a backdating job that completes it for every user who already
qualifies, silently.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import rules
from plaudit.achievements.schemas import (
    AdminAchievement,
    AttributeFilter,
    Badge,
    CreateAchievementRequestItem,
    UpdateAchievementRequestItem,
)
from plaudit.achievements.tables import achievements
from plaudit.core import admin_crud
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.metrics.rules import ValueOutOfRange, from_micro, to_micro
from plaudit.platform.config import ScopeConfig

THING = "Achievement"
_DEFINITION = (
    "name",
    "description",
    "badge_url",
    "trigger",
    "key",
    "metric_id",
    "metric_value",
    "streak_length",
    "anniversary_years",
    "achievement_ids",
    "user_attributes",
    "event_attributes",
)


class Invalid(Exception):
    """One item cannot be applied; the message becomes its issue."""


def to_wire(row: Any) -> AdminAchievement:
    trigger = row.trigger
    return AdminAchievement(
        id=str(row.id),
        name=row.name,
        description=row.description,
        trigger=trigger,
        status=row.status,
        badge=Badge(url=row.badge_url) if row.badge_url else None,
        user_attributes=[AttributeFilter.model_validate(f) for f in row.user_attributes or []],
        key=row.key if trigger == "api" else None,
        metric_id=str(row.metric_id) if trigger == "metric" else None,
        metric_value=from_micro(row.metric_value) if trigger == "metric" else None,
        event_attributes=(
            [AttributeFilter.model_validate(f) for f in row.event_attributes or []]
            if trigger == "metric"
            else None
        ),
        streak_length=row.streak_length if trigger == "streak" else None,
        anniversary_years=row.anniversary_years if trigger == "anniversary" else None,
        achievement_ids=list(row.achievement_ids or []) if trigger == "achievement" else None,
    )


def _filters(
    items: Sequence[AttributeFilter] | None, kind: str, config: ScopeConfig
) -> list[dict[str, str]]:
    stored = []
    for item in items or ():
        attribute_id = parse_uuid(item.attribute_id)
        known = config.attributes_by_id.get(attribute_id) if attribute_id else None
        active = known is not None and (
            known[0]
            in (config.user_attribute_keys if kind == "user" else config.event_attribute_keys)
        )
        if known is None or known[1] != kind or not active:
            raise Invalid(f"attributeId {item.attribute_id} is not an active {kind} attribute")
        stored.append({"attributeId": str(attribute_id), "attributeValue": item.attribute_value})
    return stored


async def _live_rows(conn: AsyncConnection, scope_id: int) -> list[Any]:
    return list(
        await conn.execute(
            select(achievements).where(
                achievements.c.scope_id == scope_id, achievements.c.status != "archived"
            )
        )
    )


def _values(
    fields: dict[str, Any],
    sent: set[str],
    config: ScopeConfig,
    existing: list[Any],
    own_id: uuid.UUID | None,
) -> dict[str, Any]:
    """Table values of one definition, or Invalid with the first problem found."""
    trigger = fields["trigger"]
    problems = rules.trigger_problems(trigger, sent, fields)
    if problems:
        raise Invalid("; ".join(problems))
    values: dict[str, Any] = {
        "name": fields["name"],
        "description": fields.get("description"),
        "badge_url": fields["badge"].url if fields.get("badge") else None,
        "trigger": trigger,
        "key": None,
        "metric_id": None,
        "metric_value": None,
        "streak_length": None,
        "anniversary_years": None,
        "achievement_ids": None,
        "user_attributes": _filters(fields.get("user_attributes"), "user", config),
        "event_attributes": None,
    }
    if trigger == "metric":
        metric_id = parse_uuid(str(fields["metric_id"]))
        if metric_id is None or metric_id not in config.metrics_by_id:
            raise Invalid(f"metricId {fields['metric_id']} is not an active metric")
        try:
            values["metric_value"] = to_micro(float(fields["metric_value"]))
        except ValueOutOfRange as exc:
            raise Invalid(f"metricValue: {exc}") from None
        values["metric_id"] = metric_id
        values["event_attributes"] = _filters(fields.get("event_attributes"), "event", config)
    elif trigger == "streak":
        values["streak_length"] = fields["streak_length"]
    elif trigger == "anniversary":
        values["anniversary_years"] = fields["anniversary_years"]
    elif trigger == "api":
        taken = [
            row
            for row in existing
            if row.trigger == "api" and row.key == fields["key"] and row.id != own_id
        ]
        if taken:
            raise Invalid("Key already in use by another achievement")
        values["key"] = fields["key"]
    elif trigger == "achievement":
        known = {row.id: row for row in existing}
        prerequisites = []
        for raw in fields["achievement_ids"]:
            found = parse_uuid(raw)
            if found is None or found not in known or found == own_id:
                raise Invalid(f"achievementIds: {raw} is not another achievement of this scope")
            prerequisites.append(found)
        graph = {
            row.id: [uuid.UUID(i) for i in row.achievement_ids or ()]
            for row in existing
            if row.trigger == "achievement"
        }
        if own_id is not None and rules.creates_cycle(own_id, prerequisites, graph):
            raise Invalid("achievementIds would make achievements require each other in a cycle")
        values["achievement_ids"] = [str(p) for p in dict.fromkeys(prerequisites)]
    return values


async def create(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[tuple[int, CreateAchievementRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> tuple[list[AdminAchievement], list[uuid.UUID]]:
    """Created achievements, and the ids of those created active (to backdate)."""
    existing = await _live_rows(conn, config.scope_id)
    created: list[AdminAchievement] = []
    to_backdate: list[uuid.UUID] = []
    for index, item in items:
        fields = {name: getattr(item, name) for name in type(item).model_fields}
        sent = {name for name in item.model_fields_set if getattr(item, name) is not None}
        try:
            values = _values(fields, sent, config, existing, None)
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
            continue
        row_values = {
            **values,
            "id": new_id(),
            "scope_id": config.scope_id,
            "status": item.status or "inactive",
            "created": now,
            "updated": now,
        }
        try:
            async with conn.begin_nested():
                await conn.execute(insert(achievements).values(**row_values))
        except IntegrityError:
            issues.append(
                AdminIssue(
                    index=index,
                    severity="error",
                    message="Key already in use by another achievement",
                )
            )
            continue
        row = (
            await conn.execute(select(achievements).where(achievements.c.id == row_values["id"]))
        ).one()
        existing.append(row)
        created.append(to_wire(row))
        if row.status == "active":
            to_backdate.append(row.id)
    return created, to_backdate


_CLEARABLE = {"description", "badge", "user_attributes", "event_attributes"}


async def update_many(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[tuple[int, UpdateAchievementRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> tuple[list[AdminAchievement], list[uuid.UUID]]:
    existing = await _live_rows(conn, config.scope_id)
    updated: list[AdminAchievement] = []
    to_backdate: list[uuid.UUID] = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = next((r for r in existing if r.id == item_id), None)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{THING} not found by ID")
            )
            continue
        try:
            values, status = _merge(row, item, config, existing)
        except Invalid as exc:
            issues.append(AdminIssue(id=item.id, severity="error", message=str(exc)))
            continue
        changed = any(values[name] != getattr(row, name) for name in _DEFINITION)
        try:
            async with conn.begin_nested():
                await conn.execute(
                    update(achievements)
                    .where(achievements.c.id == item_id)
                    .values(**values, status=status, updated=now)
                )
        except IntegrityError:
            issues.append(
                AdminIssue(
                    id=item.id,
                    severity="error",
                    message="Key already in use by another achievement",
                )
            )
            continue
        fresh = (await conn.execute(select(achievements).where(achievements.c.id == item_id))).one()
        existing = [fresh if r.id == item_id else r for r in existing]
        updated.append(to_wire(fresh))
        if status == "active" and (row.status != "active" or changed):
            to_backdate.append(item_id)
    return updated, to_backdate


def _merge(
    row: Any, item: UpdateAchievementRequestItem, config: ScopeConfig, existing: list[Any]
) -> tuple[dict[str, Any], str]:
    sent = set(item.model_fields_set) - {"id"}
    for name in sent:
        if getattr(item, name) is None and name not in _CLEARABLE:
            raise Invalid(f"{rules.WIRE_NAMES.get(name, name)} may not be null")
    trigger = item.trigger or row.trigger
    current = to_wire(row)
    fields: dict[str, Any] = {
        "name": item.name if "name" in sent and item.name else row.name,
        "trigger": trigger,
        "description": item.description if "description" in sent else row.description,
        "badge": item.badge if "badge" in sent else current.badge,
        "user_attributes": item.user_attributes
        if "user_attributes" in sent
        else current.user_attributes,
    }
    specific = (
        "key",
        "metric_id",
        "metric_value",
        "event_attributes",
        "streak_length",
        "anniversary_years",
        "achievement_ids",
    )
    present = {name for name in sent if getattr(item, name) is not None}
    for name in specific:
        if name in sent:
            fields[name] = getattr(item, name)
        elif rules.OWNED_FIELDS[name] == trigger and trigger == row.trigger:
            fields[name] = getattr(current, name)
            if fields[name] is not None:
                present.add(name)
        else:
            fields[name] = None
    status = item.status or row.status
    if status not in rules.TRANSITIONS[row.status]:
        raise Invalid(f"status cannot change from {row.status} to {status}")
    return _values(fields, present, config, existing, row.id), status


async def archive(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    """Deleting archives: completions stay, the achievement disappears from every read."""
    existing = await _live_rows(conn, scope_id)
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = admin_crud.item_uuid(raw, issues)
        if item_id is None:
            continue
        if not any(r.id == item_id for r in existing):
            issues.append(AdminIssue(id=raw, severity="error", message=f"{THING} not found by ID"))
            continue
        dependents = [
            r.name
            for r in existing
            if r.trigger == "achievement"
            and str(item_id) in (r.achievement_ids or [])
            and r.id != item_id
        ]
        if dependents:
            issues.append(
                AdminIssue(
                    id=raw,
                    severity="error",
                    message=f"{THING} is a prerequisite of achievement '{dependents[0]}'",
                )
            )
            continue
        await conn.execute(
            update(achievements)
            .where(achievements.c.id == item_id)
            .values(status="archived", updated=now)
        )
        existing = [r for r in existing if r.id != item_id]
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues


async def get_one(conn: AsyncConnection, scope_id: int, raw_id: str) -> AdminAchievement:
    item_id = admin_crud.path_uuid(raw_id, THING)
    row = (
        await conn.execute(
            select(achievements).where(
                achievements.c.id == item_id,
                achievements.c.scope_id == scope_id,
                achievements.c.status != "archived",
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"{THING} not found")
    return to_wire(row)


async def list_page(
    conn: AsyncConnection, scope_id: int, *, limit: int, skip: int
) -> list[AdminAchievement]:
    rows = await conn.execute(
        select(achievements)
        .where(achievements.c.scope_id == scope_id, achievements.c.status != "archived")
        .order_by(achievements.c.created, achievements.c.id)
        .limit(limit)
        .offset(skip)
    )
    return [to_wire(row) for row in rows]
