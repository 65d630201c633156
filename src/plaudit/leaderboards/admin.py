"""Admin API for leaderboards: definitions in the SDK 1.27.0 shape, and status actions.

PATCH `status` is the dashboard's actions: activate (`active`, start today or earlier),
schedule (`scheduled`, a future start), deactivate (`inactive`) and finish (`finished`:
ends the current run now and finalizes it). Once a board has been activated its ranking
and scheduling settings are frozen; name, description, maxParticipants, the daily window
and a future end stay editable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements.schemas import AttributeFilter
from plaudit.core import admin_crud
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.leaderboards import rules
from plaudit.leaderboards.loading import to_config
from plaudit.leaderboards.points_link import points_system_exists
from plaudit.leaderboards.schemas import (
    AdminLeaderboard,
    CreateLeaderboardRequestItem,
    UpdateLeaderboardRequestItem,
)
from plaudit.leaderboards.tables import leaderboards
from plaudit.platform.config import ScopeConfig

THING = "Leaderboard"
DEFAULT_MAX_PARTICIPANTS = 1000
# Settings that freeze once a board has been activated (leaderboards.md §1).
FROZEN = (
    "rank_by",
    "metric_id",
    "points_system_id",
    "run_unit",
    "run_interval",
    "start",
    "breakdown_attributes",
    "user_attributes",
)
WIRE = {
    "rank_by": "rankBy",
    "metric_id": "metricId",
    "points_system_id": "pointsSystemId",
    "run_unit": "runUnit",
    "run_interval": "runInterval",
    "start": "start",
    "end": "end",
    "breakdown_attributes": "breakdownAttributes",
    "user_attributes": "userAttributes",
    "max_participants": "maxParticipants",
    "start_time": "startTime",
    "end_time": "endTime",
    "key": "key",
    "name": "name",
    "status": "status",
    "description": "description",
}
_CLEARABLE = {"description", "end", "start_time", "end_time", "run_unit", "user_attributes"}


class Invalid(Exception):
    """One item cannot be applied; the message becomes its issue."""


def to_wire(row: Any) -> AdminLeaderboard:
    return AdminLeaderboard(
        id=str(row.id),
        name=row.name,
        key=row.key,
        description=row.description,
        status=row.status,
        rank_by=row.rank_by,
        metric_id=str(row.metric_id) if row.metric_id else None,
        points_system_id=str(row.points_system_id) if row.points_system_id else None,
        max_participants=row.max_participants,
        start=row.start,
        end=row.end,
        start_time=row.start_time,
        end_time=row.end_time,
        breakdown_attributes=list(row.breakdown_attributes or []),
        user_attributes=[AttributeFilter.model_validate(f) for f in row.user_attributes or []],
        run_unit=row.run_unit,
        run_interval=row.run_interval,
    )


def _user_attribute(config: ScopeConfig, raw: str, field: str) -> uuid.UUID:
    attribute_id = parse_uuid(raw)
    known = config.attributes_by_id.get(attribute_id) if attribute_id else None
    if (
        attribute_id is None
        or known is None
        or known[1] != "user"
        or known[0] not in config.user_attribute_keys
    ):
        raise Invalid(f"{field}: {raw} is not an active user attribute")
    return attribute_id


def _definition(fields: dict[str, Any], config: ScopeConfig, max_allowed: int) -> dict[str, Any]:
    """Table values of one definition's settings, or Invalid naming the first problem."""
    rank_by = fields["rank_by"]
    values: dict[str, Any] = {
        "rank_by": rank_by,
        "metric_id": None,
        "points_system_id": None,
    }
    if rank_by == "metric":
        metric_id = parse_uuid(str(fields.get("metric_id") or ""))
        if fields.get("metric_id") is None:
            raise Invalid("metricId is required when rankBy is metric")
        if metric_id is None or metric_id not in config.metrics_by_id:
            raise Invalid(f"metricId {fields['metric_id']} is not an active metric")
        values["metric_id"] = metric_id
    elif rank_by == "points":
        if fields.get("points_system_id") is None:
            raise Invalid("pointsSystemId is required when rankBy is points")
        system_id = parse_uuid(str(fields["points_system_id"]))
        if system_id is None or not points_system_exists(config, system_id):
            raise Invalid(f"pointsSystemId {fields['points_system_id']} is not a points system")
        values["points_system_id"] = system_id
    maximum = fields.get("max_participants")
    maximum = DEFAULT_MAX_PARTICIPANTS if maximum is None else maximum
    if not 1 <= maximum <= max_allowed:
        raise Invalid(f"maxParticipants must be between 1 and {max_allowed}")
    values["max_participants"] = maximum
    start, end = fields["start"], fields.get("end")
    if end is not None and end < start:
        raise Invalid("end must not be before start")
    values["start"], values["end"] = start, end
    values["start_time"], values["end_time"] = fields.get("start_time"), fields.get("end_time")
    if (
        values["start_time"] is not None
        and values["end_time"] is not None
        and (rules.parse_time(values["start_time"]) == rules.parse_time(values["end_time"]))
    ):
        raise Invalid("startTime and endTime must differ")
    unit, interval = fields.get("run_unit"), fields.get("run_interval")
    if unit is None and interval is not None:
        raise Invalid("runInterval needs runUnit")
    if unit is not None:
        if rank_by == "streak":
            raise Invalid("streak leaderboards cannot repeat: runUnit must not be set")
        if interval is None or interval < 1:
            raise Invalid("runInterval must be an integer of at least 1 when runUnit is set")
    values["run_unit"] = unit
    values["run_interval"] = interval if unit is not None else None
    breakdown = [
        str(_user_attribute(config, raw, "breakdownAttributes"))
        for raw in fields.get("breakdown_attributes") or ()
    ]
    if len(set(breakdown)) != len(breakdown):
        raise Invalid("breakdownAttributes must not repeat an attribute")
    values["breakdown_attributes"] = breakdown
    values["user_attributes"] = [
        {
            "attributeId": str(_user_attribute(config, item.attribute_id, "userAttributes")),
            "attributeValue": item.attribute_value,
        }
        for item in fields.get("user_attributes") or ()
    ]
    return values


def _status_values(
    values: dict[str, Any], status: str, old_status: str | None, today: dt.date
) -> dict[str, Any]:
    """Columns that follow from moving to `status` (activation starts the schedule)."""
    if status == old_status:
        return {}
    start, end = values["start"], values["end"]
    if status == "active":
        if start > today:
            raise Invalid("start is in the future: a leaderboard starting later is scheduled")
        if end is not None and end < today:
            raise Invalid("end is in the past: the leaderboard could not run")
    elif status == "scheduled":
        if start <= today:
            raise Invalid("status scheduled needs a future start; activate it instead")
    elif status == "finished":
        if old_status is None and (end is None or end >= today):
            raise Invalid("a leaderboard is created finished only with an end in the past")
        if old_status not in (None, "active"):
            raise Invalid(f"status cannot change from {old_status} to finished")
        return {"next_due": None}
    if old_status == "finished":
        raise Invalid("a finished leaderboard cannot change status")
    if status == "inactive":
        return {"next_due": None}
    board = _board(values, status)
    progress = rules.progress_on_activation(board, status, today)
    step = rules.next_step(board, progress)
    return {
        "activated": True,
        "runs_started": progress.runs_started,
        "runs_finished": progress.runs_finished,
        "next_due": step[2] if step else None,
    }


def _board(values: dict[str, Any], status: str) -> rules.LeaderboardConfig:
    """The schedule-relevant part of a definition (for the pure rules)."""
    return rules.LeaderboardConfig(
        id=values.get("id") or uuid.UUID(int=0),
        key="",
        name="",
        description=None,
        status=status,
        rank_by=values["rank_by"],
        metric_id=None,
        points_system_id=None,
        max_participants=values["max_participants"],
        start=values["start"],
        end=values["end"],
        start_time=None,
        end_time=None,
        breakdown=(),
        user_filters=(),
        run_unit=values["run_unit"],
        run_interval=values["run_interval"],
        created=dt.datetime.min,
    )


async def create(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[tuple[int, CreateLeaderboardRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
    max_allowed: int,
) -> list[AdminLeaderboard]:
    today = now.date()
    created: list[AdminLeaderboard] = []
    for index, item in items:
        fields = {name: getattr(item, name) for name in type(item).model_fields}
        fields["start"] = fields["start"] or today
        status = item.status or "inactive"
        try:
            values = _definition(fields, config, max_allowed)
            values.update(
                activated=False, runs_started=0, runs_finished=0, next_due=None, id=new_id()
            )
            values.update(_status_values(values, status, None, today))
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
            continue
        row_values = {
            **values,
            "scope_id": config.scope_id,
            "key": item.key,
            "name": item.name,
            "description": item.description,
            "status": status,
            "created": now,
            "updated": now,
        }
        try:
            async with conn.begin_nested():
                await conn.execute(insert(leaderboards).values(**row_values))
        except IntegrityError:
            issues.append(
                AdminIssue(
                    index=index,
                    severity="error",
                    message="Key already in use by another leaderboard",
                )
            )
            continue
        row = (
            await conn.execute(select(leaderboards).where(leaderboards.c.id == row_values["id"]))
        ).one()
        created.append(to_wire(row))
    return created


async def update_many(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[tuple[int, UpdateLeaderboardRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
    max_allowed: int,
) -> tuple[list[AdminLeaderboard], list[tuple[Any, Any]]]:
    """Updated boards, and (old row, new row) of each board that the finish action ended."""
    today = now.date()
    updated: list[AdminLeaderboard] = []
    finished: list[tuple[Any, Any]] = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = (
            await conn.execute(
                select(leaderboards)
                .where(
                    leaderboards.c.id == item_id,
                    leaderboards.c.scope_id == config.scope_id,
                    leaderboards.c.status != "archived",
                )
                .with_for_update()
            )
        ).first()
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{THING} not found by ID")
            )
            continue
        try:
            values = _merge(row, item, config, today, max_allowed)
        except Invalid as exc:
            issues.append(AdminIssue(id=item.id, severity="error", message=str(exc)))
            continue
        try:
            async with conn.begin_nested():
                await conn.execute(
                    update(leaderboards)
                    .where(leaderboards.c.id == item_id)
                    .values(**values, updated=now)
                )
        except IntegrityError:
            issues.append(
                AdminIssue(
                    id=item.id,
                    severity="error",
                    message="Key already in use by another leaderboard",
                )
            )
            continue
        fresh = (await conn.execute(select(leaderboards).where(leaderboards.c.id == item_id))).one()
        updated.append(to_wire(fresh))
        if fresh.status == "finished" and row.status == "active":
            finished.append((row, fresh))
    return updated, finished


def _merge(
    row: Any,
    item: UpdateLeaderboardRequestItem,
    config: ScopeConfig,
    today: dt.date,
    max_allowed: int,
) -> dict[str, Any]:
    sent = set(item.model_fields_set) - {"id"}
    for name in sent:
        if getattr(item, name) is None and name not in _CLEARABLE:
            raise Invalid(f"{WIRE.get(name, name)} may not be null")
    current = to_wire(row)
    fields: dict[str, Any] = {}
    for name in type(item).model_fields:
        if name == "id":
            continue
        fields[name] = getattr(item, name) if name in sent else getattr(current, name)
    if row.activated:
        changed = [
            name
            for name in FROZEN
            if name in sent and _comparable(fields[name]) != _comparable(getattr(current, name))
        ]
        if changed:
            raise Invalid(
                f"{WIRE[changed[0]]} cannot change once the leaderboard has been activated"
            )
        end = fields["end"]
        if "end" in sent and end != row.end and end is not None and end < today:
            raise Invalid("end must not be in the past once the leaderboard has been activated")
    if row.status != "inactive":
        for name in ("key", "user_attributes"):
            if name in sent and _comparable(fields[name]) != _comparable(getattr(current, name)):
                raise Invalid(f"{WIRE[name]} can change only while the leaderboard is inactive")
    status = item.status or row.status
    values = _definition(fields, config, max_allowed)
    values["id"] = row.id
    values.update(_status_values(values, status, row.status, today))
    if status == "finished" and row.status == "active":
        values["end"] = min(values["end"] or today, today)
    if status in ("active", "scheduled") and row.status == status and (values["end"] != row.end):
        # A new end changes the schedule of the runs still to come.
        board = _board(values, status)
        progress = rules.Progress(status, row.runs_started, row.runs_finished)
        step = rules.next_step(board, progress)
        values["next_due"] = step[2] if step else None
    values.pop("id")
    values.update(
        key=fields["key"], name=fields["name"], description=fields["description"], status=status
    )
    return values


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
    return value


async def archive(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = admin_crud.item_uuid(raw, issues)
        if item_id is None:
            continue
        result = await conn.execute(
            update(leaderboards)
            .where(
                leaderboards.c.id == item_id,
                leaderboards.c.scope_id == scope_id,
                leaderboards.c.status != "archived",
            )
            .values(status="archived", next_due=None, updated=now)
        )
        if result.rowcount == 0:
            issues.append(AdminIssue(id=raw, severity="error", message=f"{THING} not found by ID"))
            continue
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues


async def get_one(conn: AsyncConnection, scope_id: int, raw_id: str) -> AdminLeaderboard:
    item_id = admin_crud.path_uuid(raw_id, THING)
    row = (
        await conn.execute(
            select(leaderboards).where(
                leaderboards.c.id == item_id,
                leaderboards.c.scope_id == scope_id,
                leaderboards.c.status != "archived",
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"{THING} not found")
    return to_wire(row)


async def list_page(
    conn: AsyncConnection, scope_id: int, *, limit: int, skip: int
) -> list[AdminLeaderboard]:
    rows = await conn.execute(
        select(leaderboards)
        .where(leaderboards.c.scope_id == scope_id, leaderboards.c.status != "archived")
        .order_by(leaderboards.c.created, leaderboards.c.id)
        .limit(limit)
        .offset(skip)
    )
    return [to_wire(row) for row in rows]


def config_of(row: Any, config: ScopeConfig) -> rules.LeaderboardConfig:
    return to_config(row, config.attributes_by_id)
