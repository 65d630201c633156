"""The webhook outbox: one row per event that subscribers are to receive.

Rows are written in the same transaction as the change they describe, so a rolled-back
change sends nothing. The delivery side fans each row out into one delivery per matching
subscription and records every attempt ("webhooks as data"). Dispatched rows that no
delivery or throttle window references any more are purged after the log retention.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, Uuid, text

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

# A destination of one scope. status: active | inactive | disabled (by the server, after
# failing for 24 h; `disabled_reason` says so) | archived (deleted).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("name", String(255), nullable=True),
    Column("url", Text, nullable=False),
    Column("events", JsonDoc, nullable=False),  # event types; empty = all
    Column("status", String(16), nullable=False),
    Column("secret", Text, nullable=False),
    # Since when every attempt has failed (NULL after a success).
    Column("failing_since", UTCDateTime, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_webhook_subscriptions_scope_status", "scope_id", "status"),
)

# One message to one subscription. status: pending | succeeded | failed. A claim sets
# `claim_id` and `locked_until`; an attempt is recorded only by the claim that made it.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("subscription_id", Uuid, ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("event_id", Uuid, nullable=False),  # webhook_events.id (purged separately)
    Column("type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("claim_id", Uuid, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "created"),
    Index("ix_webhook_deliveries_event", "event_id"),
)

# Every attempt of every delivery.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("delivery_id", Uuid, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)

# Throttled types (points.changed, leaderboard.changed, ...): per type + subject, the end
# of the current window and the latest held event, sent when the window closes.
webhook_throttles = Table(
    "webhook_throttles",
    metadata,
    Column("scope_id", BigId, ForeignKey("scopes.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("window_end", UTCDateTime, nullable=False),
    Column("held_event_id", Uuid, nullable=True),
    Index("ix_webhook_throttles_window_end", "window_end"),
)
