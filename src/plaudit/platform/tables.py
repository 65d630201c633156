"""Environments, scopes, tenants and API keys.

A scope is (environment, tenant): the environment's own data lives in its default scope,
each tenant has one more. Every row of every feature belongs to exactly one scope.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
)

from plaudit.core.db import BigId, JsonDoc, UTCDateTime, metadata

environments = Table(
    "environments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("type", String(16), nullable=False),  # production | staging | development
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active | deleted
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

scopes = Table(
    "scopes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("tenant_id", Uuid, nullable=True),
    # Bumped by every configuration write; caches compare it to know they are current.
    Column("config_version", Integer, nullable=False, default=1),
    Column("settings", JsonDoc, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_scopes_environment_tenant", "environment_id", "tenant_id", unique=True),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=False),
    Column("customer_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # active | archived
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_tenants_environment_customer", "environment_id", "customer_id", unique=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    # Application keys act for one user of one scope; admin keys pick a scope per request.
    Column("scope_id", BigId, ForeignKey("scopes.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # admin | application
    Column("name", String(255), nullable=True),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("user_id", String(255), nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("last_used", UTCDateTime, nullable=True),
    Index("ix_api_keys_environment_kind", "environment_id", "kind"),
)
