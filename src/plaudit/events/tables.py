"""Recorded metric events: the only input of the engine."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Uuid, text

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

events = Table(
    "events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("user_pk", BigId, ForeignKey("users.pk"), nullable=False),
    Column("metric_id", Uuid, ForeignKey("metrics.id"), nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("attributes", JsonDoc, nullable=True),
    Column("idempotency_key", String(255), nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_events_user_metric_created", "user_pk", "metric_id", "created"),
    # Idempotency is per (user, metric, key); the index is the lock that makes it exact.
    Index(
        "ix_events_idempotency",
        "user_pk",
        "metric_id",
        "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    # The retention sweep picks the oldest keys to forget; a forgotten key leaves the index,
    # so each chunk reads only rows it will change, however large the table.
    Index(
        "ix_events_keys_by_age",
        "created",
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)
