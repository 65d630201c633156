"""The webhook outbox: one row per event that subscribers are to receive.

Rows are written in the same transaction as the change they describe, so a rolled-back
change sends nothing. The delivery side (subscriptions, attempts, signing) reads them.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Uuid, text

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

webhook_events = Table(
    "webhook_events",
    metadata,
    # Also the `webhook-id` receivers deduplicate on: the same on every retry.
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("dispatched", UTCDateTime, nullable=True),
    Index(
        "ix_webhook_events_pending",
        "created",
        sqlite_where=text("dispatched IS NULL"),
        postgresql_where=text("dispatched IS NULL"),
    ),
)
