"""What the due sweeps read: one schedule row per user and message type, and the
achievement messages waiting for their local send time.

`due` drives the sweeps through one range scan of an index (no job per user, no scan of
all users); a row whose type has nothing pending keeps `due` NULL and stays out of the
partial index.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Uuid, text

from plaudit.core.db import BigId, UTCDateTime, metadata

notification_schedule = Table(
    "notification_schedule",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # recap | reactivation | streak_reminder
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    # The user's last metric event (reactivation counts from it; recap checks the period).
    Column("last_active", UTCDateTime, nullable=False),
    # Reactivation messages already due since `last_active` (0-5); 0 for the other types.
    Column("sent", Integer, nullable=False),
    Column("due", UTCDateTime, nullable=True),
    Index(
        "ix_notification_schedule_due",
        "due",
        sqlite_where=text("due IS NOT NULL"),
        postgresql_where=text("due IS NOT NULL"),
    ),
)

achievement_messages = Table(
    "achievement_messages",
    metadata,
    Column("completion_id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=False),
    Column("achievement_id", Uuid, nullable=False),
    Column("achieved_at", UTCDateTime, nullable=False),
    Column("due", UTCDateTime, nullable=False),
    Index("ix_achievement_messages_due", "due"),
)
