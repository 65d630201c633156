"""Background jobs (claimed with SKIP LOCKED on PostgreSQL) and periodic sweeps."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("scope_id", BigId, nullable=True),
    Column("payload", JsonDoc, nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("run_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime, nullable=True),
    Index("ix_jobs_status_run_at", "status", "run_at"),
)

sweeps = Table(
    "sweeps",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("next_run_at", UTCDateTime, nullable=True),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("last_run_at", UTCDateTime, nullable=True),
    Column("last_result", Text, nullable=True),
)
