"""Each user's streak: the state the rules work on, and its history one row per period.

The state is one JSON document (the rules' `StreakState` without its history) next to the
few columns that are queried: `next_due` drives the end-of-period sweep through one index
range scan (no job per user), `length`/`longest` serve rankings and streak achievements.
History lives in its own rows so an event reads and writes a small document whatever the
age of the streak.

Admin pauses live in the state document (that is what the rules read); `streak_pauses`
records each one as well, so that a pause can be found by its id (to delete it) and stays
on record, archived, once deleted.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    text,
)

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

user_streaks = Table(
    "user_streaks",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("state", JsonDoc, nullable=False),
    Column("length", Integer, nullable=False),
    Column("longest", Integer, nullable=False),
    Column("last_extended_at", UTCDateTime, nullable=True),
    # The next local midnight at which something happens to this streak (None: nothing).
    Column("next_due", UTCDateTime, nullable=True),
    Column("updated", UTCDateTime, nullable=False),
    Index(
        "ix_user_streaks_next_due",
        "next_due",
        sqlite_where=text("next_due IS NOT NULL"),
        postgresql_where=text("next_due IS NOT NULL"),
    ),
    Index("ix_user_streaks_scope_length", "scope_id", "length"),
    Index("ix_user_streaks_scope_longest", "scope_id", "longest"),
)

streak_periods = Table(
    "streak_periods",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("period_end", Date, nullable=False),
    Column("length", Integer, nullable=False),
    Column("used_freeze", Boolean, nullable=False),
    Column("used_pause", Boolean, nullable=False),
    Column("reset_at", UTCDateTime, nullable=True),
)

streak_pauses = Table(
    "streak_pauses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=False),
    Column("start", Date, nullable=False),  # first protected local date
    Column("end", Date, nullable=False),  # last protected local date (inclusive)
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_streak_pauses_user", "user_pk", "start"),
)
