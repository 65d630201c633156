"""Users (identified by the customer's own id within a scope) and their preferences."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, String, Table

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("id", String(255), nullable=False),
    Column("name", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("tz", String(64), nullable=True),
    Column("device_tokens", JsonDoc, nullable=True),
    Column("subscribe_to_emails", Boolean, nullable=False),
    Column("attributes", JsonDoc, nullable=False),
    Column("control", Boolean, nullable=False),
    Column("sign_up_date", Date, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_users_scope_id_external", "scope_id", "id", unique=True),
)

user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("notifications", JsonDoc, nullable=False),
    # Absent until streak preferences are first set (then GET includes `streak`).
    Column("streak", JsonDoc, nullable=True),
    Column("updated", UTCDateTime, nullable=False),
)
