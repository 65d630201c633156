"""Achievements and who completed them (once each, forever)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    text,
)

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

achievements = Table(
    "achievements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("badge_url", Text, nullable=True),
    Column(
        "trigger", String(16), nullable=False
    ),  # metric | streak | api | achievement | anniversary
    Column("status", String(16), nullable=False),  # inactive | active | locked | archived
    Column("key", String(255), nullable=True),  # api only
    Column("metric_id", Uuid, ForeignKey("metrics.id"), nullable=True),
    Column("metric_value", BigInteger, nullable=True),  # millionths, like metric totals
    Column("streak_length", Integer, nullable=True),
    Column("anniversary_years", Integer, nullable=True),
    Column("achievement_ids", JsonDoc, nullable=True),  # prerequisite ids (composites)
    Column("user_attributes", JsonDoc, nullable=False),  # [{attributeId, attributeValue}]
    Column("event_attributes", JsonDoc, nullable=True),  # metric only
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index(
        "ix_achievements_api_key",
        "scope_id",
        "key",
        unique=True,
        sqlite_where=text("trigger = 'api' AND status <> 'archived'"),
        postgresql_where=text("trigger = 'api' AND status <> 'archived'"),
    ),
)

achievement_completions = Table(
    "achievement_completions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("achievement_id", Uuid, ForeignKey("achievements.id"), nullable=False),
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=False),
    Column("achieved_at", UTCDateTime, nullable=False),
    # Backdated completions (activation, edits, restores) sent no notifications.
    Column("backdated", Boolean, nullable=False),
    # The unique index is what makes "completes exactly once" hold under concurrency.
    Index("ix_achievement_completions_once", "achievement_id", "user_pk", unique=True),
    Index("ix_achievement_completions_user", "user_pk"),
)
