"""The points part of a scope's configuration snapshot: live systems with their active
triggers, levels and boosts, read once per configuration version (the event path reads
no configuration rows)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.points.tables import points_boosts, points_levels, points_systems, points_triggers

Filters = tuple[tuple[str, str], ...]  # (attribute key, value): all must match


@dataclass(frozen=True, slots=True)
class Level:
    id: uuid.UUID
    key: str
    name: str
    description: str
    badge_url: str | None
    points: int


@dataclass(frozen=True, slots=True)
class Trigger:
    id: uuid.UUID
    system_id: uuid.UUID
    type: str
    points: int
    status: str
    user_filters: Filters
    created: dt.datetime
    updated: dt.datetime
    metric_id: uuid.UUID | None = None
    metric_threshold: int | None = None  # whole metric units
    event_filters: Filters = ()
    achievement_id: uuid.UUID | None = None
    streak_length: int | None = None
    time_unit: str | None = None  # hours | days
    time_interval: int | None = None
    block_if_out_of_points: bool = False
    activated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Boost:
    id: uuid.UUID
    system_id: uuid.UUID
    name: str
    start: dt.date
    end: dt.date | None
    multiplier: float
    rounding: str
    user_pk: int | None
    user_filters: Filters


@dataclass(frozen=True, slots=True)
class System:
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    badge_url: str | None
    max_points: int | None
    levels: tuple[Level, ...] = ()  # lowest threshold first
    triggers: tuple[Trigger, ...] = ()  # active only, oldest first
    boosts: tuple[Boost, ...] = ()  # live (not deleted), by start


@dataclass(frozen=True)
class PointsConfig:
    systems: tuple[System, ...] = ()

    @cached_property
    def by_id(self) -> dict[uuid.UUID, System]:
        return {s.id: s for s in self.systems}

    @cached_property
    def by_key(self) -> dict[str, System]:
        return {s.key: s for s in self.systems}

    def _of_type(self, kind: str) -> tuple[Trigger, ...]:
        return tuple(t for s in self.systems for t in s.triggers if t.type == kind)

    @cached_property
    def metric_triggers(self) -> dict[uuid.UUID, tuple[Trigger, ...]]:
        grouped: dict[uuid.UUID, list[Trigger]] = {}
        for t in self._of_type("metric"):
            assert t.metric_id is not None
            grouped.setdefault(t.metric_id, []).append(t)
        return {metric: tuple(items) for metric, items in grouped.items()}

    @cached_property
    def achievement_triggers(self) -> dict[uuid.UUID, tuple[Trigger, ...]]:
        grouped: dict[uuid.UUID, list[Trigger]] = {}
        for t in self._of_type("achievement"):
            assert t.achievement_id is not None
            grouped.setdefault(t.achievement_id, []).append(t)
        return {achievement: tuple(items) for achievement, items in grouped.items()}

    @cached_property
    def streak_triggers(self) -> tuple[Trigger, ...]:
        return self._of_type("streak")

    @cached_property
    def creation_triggers(self) -> tuple[Trigger, ...]:
        return self._of_type("user_creation")

    @cached_property
    def time_triggers(self) -> tuple[Trigger, ...]:
        return self._of_type("time")

    @cached_property
    def triggers_by_id(self) -> dict[uuid.UUID, Trigger]:
        return {t.id: t for s in self.systems for t in s.triggers}

    @cached_property
    def wires(self) -> dict[uuid.UUID, dict[str, Any]]:
        """The API objects of active triggers, by id, filled as `views.trigger` builds them."""
        return {}


def filters(
    stored: Iterable[Mapping[str, str]] | None, attributes: Mapping[uuid.UUID, Any]
) -> Filters:
    """Stored `{attributeId, attributeValue}` filters as (key, value) pairs."""
    pairs = []
    for item in stored or ():
        found = attributes.get(uuid.UUID(item["attributeId"]))
        if found is not None:
            pairs.append((found[0], item["attributeValue"]))
    return tuple(pairs)


def trigger_from_row(row: Any, attributes: Mapping[uuid.UUID, Any]) -> Trigger:
    return Trigger(
        id=row.id,
        system_id=row.system_id,
        type=row.type,
        points=row.points,
        status=row.status,
        user_filters=filters(row.user_attributes, attributes),
        metric_id=row.metric_id,
        metric_threshold=row.metric_threshold,
        event_filters=filters(row.event_attributes, attributes),
        achievement_id=row.achievement_id,
        streak_length=row.streak_length,
        time_unit=row.time_unit,
        time_interval=row.time_interval,
        block_if_out_of_points=row.block_if_out_of_points,
        activated_at=row.activated_at,
        created=row.created,
        updated=row.updated,
    )


def boost_from_row(row: Any, attributes: Mapping[uuid.UUID, Any]) -> Boost:
    return Boost(
        id=row.id,
        system_id=row.system_id,
        name=row.name,
        start=row.start,
        end=row.end,
        multiplier=row.multiplier,
        rounding=row.rounding,
        user_pk=row.user_pk,
        user_filters=filters(row.user_attributes, attributes),
    )


def level_from_row(row: Any) -> Level:
    return Level(row.id, row.key, row.name, row.description, row.badge_url, row.points)


async def load_points_config(
    conn: AsyncConnection, scope_id: int, attributes: Mapping[uuid.UUID, Any]
) -> PointsConfig:
    system_rows = list(
        await conn.execute(
            select(points_systems)
            .where(points_systems.c.scope_id == scope_id, points_systems.c.status == "active")
            .order_by(points_systems.c.created, points_systems.c.id)
        )
    )
    if not system_rows:
        return PointsConfig()
    triggers: dict[uuid.UUID, list[Trigger]] = {}
    for row in await conn.execute(
        select(points_triggers)
        .where(points_triggers.c.scope_id == scope_id, points_triggers.c.status == "active")
        .order_by(points_triggers.c.created, points_triggers.c.id)
    ):
        triggers.setdefault(row.system_id, []).append(trigger_from_row(row, attributes))
    levels: dict[uuid.UUID, list[Level]] = {}
    for row in await conn.execute(
        select(points_levels)
        .where(points_levels.c.scope_id == scope_id, points_levels.c.status == "active")
        .order_by(points_levels.c.points, points_levels.c.id)
    ):
        levels.setdefault(row.system_id, []).append(level_from_row(row))
    boosts: dict[uuid.UUID, list[Boost]] = {}
    for row in await conn.execute(
        select(points_boosts)
        .where(points_boosts.c.scope_id == scope_id, points_boosts.c.status == "live")
        .order_by(points_boosts.c.start, points_boosts.c.id)
    ):
        boosts.setdefault(row.system_id, []).append(boost_from_row(row, attributes))
    return PointsConfig(
        tuple(
            System(
                id=row.id,
                key=row.key,
                name=row.name,
                description=row.description,
                badge_url=row.badge_url,
                max_points=row.max_points,
                levels=tuple(levels.get(row.id, ())),
                triggers=tuple(triggers.get(row.id, ())),
                boosts=tuple(boosts.get(row.id, ())),
            )
            for row in system_rows
        )
    )
