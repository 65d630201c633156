"""Leaderboards, every participant's value in every run, and daily snapshots for history.

`leaderboard_entries` keeps every user's value in a run (also those below the participant
limit, who may still climb in). Its rank index lists a run's group in ranking order —
value descending, then who reached it first, then user id — as one ascending key
`(neg_value, reached_at, user_key)`: "ranked before" is a single row-value comparison and
a page is an index range, so the database never sorts a board and a rank is a count that
stops at the participant limit. The user id is stored as UTF-8 bytes because both
databases compare bytes in code-point order, whatever their collation.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    text,
)

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

leaderboards = Table(
    "leaderboards",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    # inactive | scheduled | active | finished | archived
    Column("status", String(16), nullable=False),
    Column("rank_by", String(16), nullable=False),  # metric | points | streak
    Column("metric_id", Uuid, nullable=True),
    Column("points_system_id", Uuid, nullable=True),
    Column("max_participants", Integer, nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=True),
    Column("start_time", String(8), nullable=True),  # HH:mm[:ss], user-local
    Column("end_time", String(8), nullable=True),
    Column("breakdown_attributes", JsonDoc, nullable=False),  # [attribute uuid]
    Column("user_attributes", JsonDoc, nullable=False),  # [{attributeId, attributeValue}]
    Column("run_unit", String(8), nullable=True),  # day | month | year; None: perpetual
    Column("run_interval", Integer, nullable=True),
    # Ranking and scheduling settings freeze once a board has been activated.
    Column("activated", Boolean, nullable=False),
    # Runs announced (`leaderboard.started`) and finalized (`leaderboard.finished`) so far.
    Column("runs_started", Integer, nullable=False),
    Column("runs_finished", Integer, nullable=False),
    # When the sweep next has something to do for this board (None: nothing).
    Column("next_due", UTCDateTime, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index(
        "ix_leaderboards_key",
        "scope_id",
        "key",
        unique=True,
        sqlite_where=text("status <> 'archived'"),
        postgresql_where=text("status <> 'archived'"),
    ),
    Index(
        "ix_leaderboards_next_due",
        "next_due",
        sqlite_where=text("next_due IS NOT NULL"),
        postgresql_where=text("next_due IS NOT NULL"),
    ),
)

leaderboard_entries = Table(
    "leaderboard_entries",
    metadata,
    Column("leaderboard_id", Uuid, ForeignKey("leaderboards.id"), primary_key=True),
    Column("run_start", Date, primary_key=True),
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("group_key", Text, nullable=False),  # breakdown values joined; "" without
    Column("user_key", LargeBinary, nullable=False),  # the user id, UTF-8 (tie order)
    # minus the value in millionths (metric, points, streak alike): ascending = best first
    Column("neg_value", BigInteger, nullable=False),
    Column("reached_at", UTCDateTime, nullable=False),  # when the value was reached
    # Incremented by every change: the Redis rank cache keeps only the newest per user.
    Column("version", BigInteger, nullable=False),
    Index(
        "ix_leaderboard_entries_rank",
        "leaderboard_id",
        "run_start",
        "group_key",
        "neg_value",
        "reached_at",
        "user_key",
    ),
)

leaderboard_days = Table(
    "leaderboard_days",
    metadata,
    Column("leaderboard_id", Uuid, ForeignKey("leaderboards.id"), primary_key=True),
    Column("run_start", Date, primary_key=True),
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("day", Date, primary_key=True),  # the user's local date
    Column("rank", Integer, nullable=True),  # after the user's last change that day
    Column("value", BigInteger, nullable=False),
)
