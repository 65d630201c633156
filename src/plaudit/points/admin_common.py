"""What the points Admin API modules share: the wire shape of each object (SDK 1.27.0),
item-level problems (`Invalid` becomes an issue), attribute filter checks, and the
system named in a path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.bulk import issue_text
from plaudit.core.errors import NotFound
from plaudit.core.ids import parse_uuid
from plaudit.core.schemas import format_number
from plaudit.platform.config import ScopeConfig
from plaudit.points import rules
from plaudit.points.config import boost_from_row
from plaudit.points.tables import points_systems

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


def filters(items: Sequence[Any] | None, kind: str, config: ScopeConfig) -> list[dict[str, str]]:
    stored = []
    live = config.user_attribute_keys if kind == "user" else config.event_attribute_keys
    for item in items or ():
        attribute_id = parse_uuid(item.attribute_id)
        known = config.attributes_by_id.get(attribute_id) if attribute_id else None
        if known is None or known[1] != kind or known[0] not in live:
            raise Invalid(f"attributeId {item.attribute_id} is not an active {kind} attribute")
        stored.append({"attributeId": str(attribute_id), "attributeValue": item.attribute_value})
    return stored


def validate(model: type[BaseModel], raw: Any) -> Any:
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
