"""The Application API's points objects as JSON (PointsResponse, PointsTrigger,
PointsLevel, PointsBoost, PointsAward, MetricEventPointsResponse)."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from plaudit.core.schemas import format_number, format_timestamp
from plaudit.points.config import Boost, Level, System, Trigger

if TYPE_CHECKING:
    from plaudit.platform.config import ScopeConfig
    from plaudit.points.ledger import Entry

APP_TIME_UNITS = {"hours": "hour", "days": "day"}


def system_base(system: System) -> dict[str, Any]:
    return {
        "id": str(system.id),
        "key": system.key,
        "name": system.name,
        "description": system.description,
        "badgeUrl": system.badge_url,
        "maxPoints": system.max_points,
    }


def level(found: Level) -> dict[str, Any]:
    return {
        "id": str(found.id),
        "key": found.key,
        "name": found.name,
        "description": found.description,
        "badgeUrl": found.badge_url,
        "points": found.points,
    }


def trigger(config: ScopeConfig, found: Trigger) -> dict[str, Any]:
    """PointsTrigger (shared: never mutate). An active trigger of `config` is built once
    per configuration version, keyed by id (hashing the whole trigger costs more)."""
    points = config.points
    if points.triggers_by_id.get(found.id) is found:
        body = points.wires.get(found.id)
        if body is None:
            body = points.wires[found.id] = _trigger_of(config, found)
        return body
    return _trigger_of(config, found)


def _trigger_of(config: ScopeConfig, found: Trigger) -> dict[str, Any]:
    metric = config.metrics_by_id.get(found.metric_id) if found.metric_id else None
    achievement = (
        config.achievements_by_id.get(found.achievement_id) if found.achievement_id else None
    )
    return _trigger(
        found, metric.name if metric else None, achievement.name if achievement else None
    )


@lru_cache(maxsize=4096)
def _trigger(
    found: Trigger, metric_name: str | None, achievement_name: str | None
) -> dict[str, Any]:
    """The wire object of a trigger (shared by every award of it: never mutate it)."""
    body: dict[str, Any] = {
        "id": str(found.id),
        "type": found.type,
        "points": found.points,
        "status": found.status,
        "userAttributes": [{"key": k, "value": v} for k, v in found.user_filters],
        "created": format_timestamp(found.created),
        "updated": format_timestamp(found.updated),
    }
    if found.type == "metric":
        body["metricId"] = str(found.metric_id)
        if metric_name is not None:
            body["metricName"] = metric_name
        body["metricThreshold"] = found.metric_threshold
        events = [{"key": k, "value": v} for k, v in found.event_filters]
        body["eventAttributes"] = events
        if events:
            body["eventAttribute"] = events[0]
    elif found.type == "achievement":
        body["achievementId"] = str(found.achievement_id)
        if achievement_name is not None:
            body["achievementName"] = achievement_name
    elif found.type == "streak":
        body["streakLengthThreshold"] = found.streak_length
    elif found.type == "time":
        body["timeUnit"] = APP_TIME_UNITS.get(found.time_unit or "", found.time_unit)
        body["timeInterval"] = found.time_interval
    return body


def boost_snapshot(boost: Boost) -> dict[str, Any]:
    """A boost as an award row keeps it (the boost may change or go later)."""
    return {
        "id": str(boost.id),
        "name": boost.name,
        "start": boost.start.isoformat(),
        "end": boost.end.isoformat() if boost.end else None,
        "multiplier": boost.multiplier,
        "rounding": boost.rounding,
    }


def boost_from_snapshot(doc: dict[str, Any]) -> Boost:
    return Boost(
        id=uuid.UUID(doc["id"]),
        system_id=uuid.UUID(int=0),
        name=doc["name"],
        start=dt.date.fromisoformat(doc["start"]),
        end=dt.date.fromisoformat(doc["end"]) if doc.get("end") else None,
        multiplier=doc["multiplier"],
        rounding=doc["rounding"],
        user_pk=None,
        user_filters=(),
    )


def boost(found: Boost, status: str) -> dict[str, Any]:
    return {
        "id": str(found.id),
        "name": found.name,
        "status": status,
        "start": found.start.isoformat(),
        "end": found.end.isoformat() if found.end else None,
        "multiplier": format_number(found.multiplier),
        "rounding": found.rounding,
    }


def award(
    config: ScopeConfig,
    award_id: uuid.UUID,
    awarded: int,
    date: str,
    total: int,
    found: Trigger,
    boosts: list[dict[str, Any]],
) -> dict[str, Any]:
    """PointsAward; `date` formatted (`format_timestamp`), `boosts` as `boost` gives them."""
    return {
        "id": str(award_id),
        "awarded": awarded,
        "date": date,
        "total": total,
        "trigger": trigger(config, found),
        "boosts": boosts,
    }


def event_entry(config: ScopeConfig, entry: Entry, now: dt.datetime) -> dict[str, Any]:
    """MetricEventPointsResponse: `level` only when this request changed it."""
    dates: dict[dt.datetime, str] = {}
    # A request's awards share their boost tuples; a boost that applied to an award made
    # just now is active for that user.
    active: dict[int, list[dict[str, Any]]] = {}
    awards = []
    for a in entry.awards:
        date = dates.get(a.at) or dates.setdefault(a.at, format_timestamp(a.at))
        boosts = active.get(id(a.boosts))
        if boosts is None:
            boosts = active[id(a.boosts)] = [boost(b, "active") for b in a.boosts]
        awards.append(award(config, a.id, a.awarded, date, a.total, a.trigger, boosts))
    body = {
        **system_base(entry.system),
        "total": entry.total,
        "added": entry.added,
        "awards": awards,
    }
    change = entry.level_change()
    if change is not None:
        body["level"] = level(change[1]) if change[1] else None
    return body
