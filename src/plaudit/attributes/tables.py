"""Declared custom attributes: keys users and events may carry."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Uuid, text

from plaudit.core.db import BigId, UTCDateTime, metadata

attributes = Table(
    "attributes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("type", String(8), nullable=False),  # user | event
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    # A deleted (archived) attribute frees its key.
    Index(
        "ix_attributes_active_key",
        "scope_id",
        "type",
        "key",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)
