"""Metrics and each user's running total per metric.

Values are stored as fixed-point integers (millionths, see metrics/rules.py) so that
totals are exact and independent of the order in which parallel events commit.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Uuid, text

from plaudit.core.db import BigId, UTCDateTime, metadata

metrics = Table(
    "metrics",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("unit_type", String(16), nullable=False),  # number | currency
    Column("units", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index(
        "ix_metrics_active_key",
        "scope_id",
        "key",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

metric_totals = Table(
    "metric_totals",
    metadata,
    Column("user_pk", BigId, ForeignKey("users.pk"), primary_key=True),
    Column("metric_id", Uuid, ForeignKey("metrics.id"), primary_key=True),
    Column("scope_id", BigId, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("first_event_at", UTCDateTime, nullable=False),
    Column("last_event_at", UTCDateTime, nullable=False),
)
