"""Points: systems and their triggers, levels and boosts; balances, the award ledger, and
the per-user trigger state (metric high-water marks, time-trigger due times).

A balance is one row per (user, system) and always equals the sum of that pair's award
rows: both are written in the same statement batch of the transaction that holds the
user's row locked.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
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

points_systems = Table(
    "points_systems",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("badge_url", Text, nullable=True),
    Column("max_points", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index(
        "ix_points_systems_key",
        "scope_id",
        "key",
        unique=True,
        sqlite_where=text("status <> 'archived'"),
        postgresql_where=text("status <> 'archived'"),
    ),
)

points_triggers = Table(
    "points_triggers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("system_id", Uuid, ForeignKey("points_systems.id"), nullable=False),
    Column("type", String(16), nullable=False),  # metric|achievement|streak|time|user_creation
    Column("points", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # active | inactive | archived
    Column("user_attributes", JsonDoc, nullable=False),  # [{attributeId, attributeValue}]
    Column("metric_id", Uuid, nullable=True),
    Column("metric_threshold", BigInteger, nullable=True),
    Column("event_attributes", JsonDoc, nullable=True),
    Column("achievement_id", Uuid, nullable=True),
    Column("streak_length", Integer, nullable=True),
    Column("time_unit", String(8), nullable=True),  # hours | days (the Admin API's spelling)
    Column("time_interval", Integer, nullable=True),
    Column("block_if_out_of_points", Boolean, nullable=False),
    # When the trigger last became active: metric progress and time intervals count from it.
    Column("activated_at", UTCDateTime, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_points_triggers_system", "system_id"),
)

points_levels = Table(
    "points_levels",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("system_id", Uuid, ForeignKey("points_systems.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("badge_url", Text, nullable=True),
    Column("points", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_points_levels_system", "system_id"),
)

points_boosts = Table(
    "points_boosts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("system_id", Uuid, ForeignKey("points_systems.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=True),
    Column("multiplier", Float, nullable=False),
    Column("rounding", String(8), nullable=False),  # down | up | nearest
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=True),  # user-specific boosts
    Column("user_attributes", JsonDoc, nullable=False),
    Column("status", String(16), nullable=False),  # live | archived
    # The next boost_started / boost_finished announcement, and which one it is.
    Column("announce_at", UTCDateTime, nullable=True),
    Column("announce", String(16), nullable=True),  # started | finished
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_points_boosts_system", "system_id"),
    Index(
        "ix_points_boosts_announce_at",
        "announce_at",
        sqlite_where=text("announce_at IS NOT NULL"),
        postgresql_where=text("announce_at IS NOT NULL"),
    ),
)

points_balances = Table(
    "points_balances",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("system_id", Uuid, ForeignKey("points_systems.id"), primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_points_balances_system_total", "system_id", "total"),
)

points_awards = Table(
    "points_awards",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("system_id", Uuid, ForeignKey("points_systems.id"), nullable=False),
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=False),
    Column("trigger_id", Uuid, ForeignKey("points_triggers.id"), nullable=False),
    Column("awarded", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),  # the balance right after this award
    Column("boosts", JsonDoc, nullable=False),  # the boosts that applied, as they were
    Column("event_id", Uuid, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_points_awards_user_system", "user_pk", "system_id", "created"),
)

points_marks = Table(
    "points_marks",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("trigger_id", Uuid, ForeignKey("points_triggers.id"), primary_key=True),
    Column("acc", BigInteger, nullable=False),  # millionths, since the trigger's activation
    Column("hwm", BigInteger, nullable=False),
)

points_timers = Table(
    "points_timers",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("trigger_id", Uuid, ForeignKey("points_triggers.id"), primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("next_due", UTCDateTime, nullable=False),
    Index("ix_points_timers_next_due", "next_due"),
)
