"""The configuration snapshot of a scope, cached per process and versioned.

Every configuration write calls `bump_config_version` in its transaction (webhook
subscription writes too: the snapshot says which event types the outbox stores). A process reuses
its snapshot only while it is known to be current: on PostgreSQL a notification tells every
process the new version; without a listener the version is read on each use (a primary-key
lookup that SQLite answers in microseconds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements.loading import load_live_achievements
from plaudit.achievements.rules import AchievementConfig
from plaudit.attributes.tables import attributes
from plaudit.core import fastsql, notify
from plaudit.core.db import on_commit
from plaudit.core.fastsql import FastStatement
from plaudit.core.periods import zone
from plaudit.leaderboards.loading import load_visible_leaderboards
from plaudit.leaderboards.rules import LeaderboardConfig
from plaudit.metrics.tables import metrics
from plaudit.platform.rules import effective_settings
from plaudit.platform.schemas import AdminSettings
from plaudit.platform.tables import scopes
from plaudit.points.config import PointsConfig, load_points_config
from plaudit.streaks.settings import StreakConfig, parse_streak_config
from plaudit.webhooks.rules import NO_INTEREST, Interest
from plaudit.webhooks.tables import webhook_subscriptions


@dataclass(frozen=True, slots=True)
class MetricConfig:
    id: uuid.UUID
    key: str
    name: str
    unit_type: str
    units: str


@dataclass(frozen=True)
class ScopeConfig:
    scope_id: int
    environment_id: uuid.UUID
    version: int
    settings: AdminSettings
    metrics_by_key: dict[str, MetricConfig]
    user_attribute_keys: frozenset[str]
    event_attribute_keys: frozenset[str]
    metrics_by_id: dict[uuid.UUID, MetricConfig] = field(default_factory=dict)
    # attribute id -> (key, type), archived attributes included (filters may name them)
    attributes_by_id: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    # Live achievements (active and locked), in catalogue order.
    achievements: tuple[AchievementConfig, ...] = ()
    streaks: StreakConfig = field(default_factory=lambda: parse_streak_config(None, frozenset()))
    points: PointsConfig = field(default_factory=PointsConfig)
    # Scheduled, active and finished leaderboards, in creation order.
    leaderboards: tuple[LeaderboardConfig, ...] = ()
    # The event types the active webhook subscriptions want: the outbox stores no others.
    webhooks: Interest = NO_INTEREST

    @cached_property
    def leaderboards_by_key(self) -> dict[str, LeaderboardConfig]:
        return {board.key: board for board in self.leaderboards}

    @cached_property
    def achievements_by_id(self) -> dict[uuid.UUID, AchievementConfig]:
        return {a.id: a for a in self.achievements}

    @cached_property
    def metric_achievements(self) -> dict[uuid.UUID, tuple[AchievementConfig, ...]]:
        """Active metric achievements of each metric, lowest threshold first."""
        grouped: dict[uuid.UUID, list[AchievementConfig]] = {}
        for a in self.achievements:
            if a.trigger == "metric" and a.completable and a.metric_id is not None:
                grouped.setdefault(a.metric_id, []).append(a)
        return {
            metric: tuple(sorted(items, key=lambda a: a.metric_value or 0))
            for metric, items in grouped.items()
        }

    @cached_property
    def composites(self) -> tuple[AchievementConfig, ...]:
        return tuple(a for a in self.achievements if a.trigger == "achievement" and a.completable)

    @property
    def default_zone(self) -> ZoneInfo:
        return zone(self.settings.default_timezone)

    def user_zone(self, tz: str | None) -> ZoneInfo:
        return zone(tz) if tz else self.default_zone

    @property
    def week_starts_on(self) -> int:
        return self.settings.week_starts_on

    @property
    def streak_customization_enabled(self) -> bool:
        return self.streaks.customization_enabled


async def load_scope_config(conn: AsyncConnection, scope_id: int) -> ScopeConfig:
    scope = (
        await conn.execute(
            select(scopes.c.environment_id, scopes.c.config_version, scopes.c.settings).where(
                scopes.c.id == scope_id
            )
        )
    ).one()
    metric_rows = await conn.execute(
        select(metrics.c.id, metrics.c.key, metrics.c.name, metrics.c.unit_type, metrics.c.units)
        .where(metrics.c.scope_id == scope_id, metrics.c.status == "active")
        .order_by(metrics.c.created, metrics.c.id)
    )
    by_key = {
        row.key: MetricConfig(row.id, row.key, row.name, row.unit_type, row.units)
        for row in metric_rows
    }
    attribute_rows = await conn.execute(
        select(attributes.c.id, attributes.c.key, attributes.c.type, attributes.c.status).where(
            attributes.c.scope_id == scope_id
        )
    )
    user_keys: set[str] = set()
    event_keys: set[str] = set()
    attributes_by_id: dict[uuid.UUID, tuple[str, str]] = {}
    for row in attribute_rows:
        attributes_by_id[row.id] = (row.key, row.type)
        if row.status == "active":
            (user_keys if row.type == "user" else event_keys).add(row.key)
    live = await load_live_achievements(conn, scope_id, attributes_by_id)
    boards = await load_visible_leaderboards(conn, scope_id, attributes_by_id)
    subscribed = await conn.execute(
        select(webhook_subscriptions.c.events).where(
            webhook_subscriptions.c.scope_id == scope_id,
            webhook_subscriptions.c.status == "active",
        )
    )
    return ScopeConfig(
        scope_id=scope_id,
        environment_id=scope.environment_id,
        version=scope.config_version,
        settings=effective_settings(scope.settings or {}),
        metrics_by_key=by_key,
        user_attribute_keys=frozenset(user_keys),
        event_attribute_keys=frozenset(event_keys),
        metrics_by_id={m.id: m for m in by_key.values()},
        attributes_by_id=attributes_by_id,
        achievements=live,
        leaderboards=boards,
        streaks=parse_streak_config(
            settings_dict(scope.settings).get("streaks"), frozenset(m.id for m in by_key.values())
        ),
        points=await load_points_config(conn, scope_id, attributes_by_id),
        webhooks=Interest.of(row.events for row in subscribed),
    )


_VERSION = FastStatement(
    lambda _dialect: select(scopes.c.config_version).where(scopes.c.id == bindparam("scope_id"))
)


class ConfigCache:
    def __init__(self, listen: notify.ListenStatus) -> None:
        self._entries: dict[int, ScopeConfig] = {}
        self._known_versions: dict[int, int] = {}
        self._listen = listen

    async def get(self, conn: AsyncConnection, scope_id: int) -> ScopeConfig:
        entry = self._entries.get(scope_id)
        if entry is not None:
            if self._listen.healthy:
                if entry.version >= self._known_versions.get(scope_id, 0):
                    return entry
            else:
                rows = await fastsql.fetch(conn, _VERSION, {"scope_id": scope_id})
                version = rows[0]["config_version"] if rows else None
                if version == entry.version:
                    return entry
        entry = await load_scope_config(conn, scope_id)
        if entry.version >= self._known_versions.get(scope_id, 0):
            self._entries[scope_id] = entry
        return entry

    def note_version(self, scope_id: int, version: int) -> None:
        if version > self._known_versions.get(scope_id, 0):
            self._known_versions[scope_id] = version
        entry = self._entries.get(scope_id)
        if entry is not None and entry.version < version:
            del self._entries[scope_id]

    def clear(self) -> None:
        self._entries.clear()


async def bump_config_version(conn: AsyncConnection, scope_id: int, cache: ConfigCache) -> int:
    """Mark the scope's configuration as changed (call inside the writing transaction)."""
    version: int = (
        await conn.execute(
            update(scopes)
            .where(scopes.c.id == scope_id)
            .values(config_version=scopes.c.config_version + 1)
            .returning(scopes.c.config_version)
        )
    ).scalar_one()
    await notify.publish(conn, f"config:{scope_id}:{version}")
    on_commit(conn, lambda: cache.note_version(scope_id, version))
    return version


def handle_config_message(cache: ConfigCache, message: str) -> bool:
    """Apply a `config:<scope>:<version>` notification; False when it is not one."""
    kind, _, rest = message.partition(":")
    if kind != "config":
        return False
    scope_text, _, version_text = rest.partition(":")
    try:
        cache.note_version(int(scope_text), int(version_text))
    except ValueError:
        return False
    return True


def settings_dict(stored: Any) -> dict[str, Any]:
    return dict(stored) if isinstance(stored, dict) else {}
