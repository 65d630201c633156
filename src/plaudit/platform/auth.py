"""Who is calling: API key → environment → scope (with `Tenant-ID`), cached per process.

Key, tenant and environment lookups are cached. On PostgreSQL every change to keys or
tenants is announced (`auth` notification) and clears the cache in every process; without
a listener an entry lives at most `PLAUDIT_AUTH_CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import keys, notify
from plaudit.core.db import Database, on_commit
from plaudit.core.errors import Forbidden, NotFound, Unauthorized
from plaudit.platform.tables import api_keys, environments, scopes, tenants

log = structlog.get_logger("plaudit.auth")

KeyKind = Literal["admin", "application"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: KeyKind
    environment_id: uuid.UUID
    scope_id: int
    key_id: uuid.UUID | None
    user_id: str | None = None

    def require_user(self, user_id: str) -> None:
        """Application keys act for exactly one user."""
        if self.kind == "application" and user_id != self.user_id:
            raise Forbidden("API key is not authorized for this user")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: uuid.UUID
    kind: KeyKind
    environment_id: uuid.UUID
    scope_id: int | None
    secret_hash: str
    active: bool
    user_id: str | None


@dataclass(slots=True)
class _Entry:
    value: object
    loaded_at: float


class AuthCache:
    def __init__(self, ttl_seconds: float, listen: notify.ListenStatus) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self._listen = listen

    def _fresh(self, entry: _Entry) -> bool:
        return self._listen.healthy or time.monotonic() - entry.loaded_at < self._ttl

    def lookup(self, key: tuple[str, ...]) -> tuple[bool, object]:
        entry = self._entries.get(key)
        if entry is None or not self._fresh(entry):
            return False, None
        return True, entry.value

    def store(self, key: tuple[str, ...], value: object) -> None:
        if len(self._entries) > 100_000:
            self._entries.clear()
        self._entries[key] = _Entry(value, time.monotonic())

    def clear(self) -> None:
        self._entries.clear()


async def announce_auth_change(conn: AsyncConnection, cache: AuthCache) -> None:
    """Call inside a transaction that changed keys, tenants or environments."""
    await notify.publish(conn, "auth")
    on_commit(conn, cache.clear)


class KeyUsage:
    """Remembers when keys were last used and writes it in the background, not per request."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, dt.datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def record(self, key_id: uuid.UUID, when: dt.datetime) -> None:
        self._pending[key_id] = when

    def latest(self, key_id: str, stored: dt.datetime | None) -> dt.datetime | None:
        """The later of a stored last-use time and one not yet written."""
        pending = self._pending.get(uuid.UUID(key_id))
        if pending is None or (stored is not None and stored >= pending):
            return stored
        return pending

    async def flush(self, db: Database) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        async with db.transaction() as conn:
            for key_id, when in sorted(pending.items()):
                await conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key_id)
                    .where((api_keys.c.last_used.is_(None)) | (api_keys.c.last_used < when))
                    .values(last_used=when)
                )

    def start(self, db: Database, interval: float = 5.0) -> None:
        stopping = self._stopping = asyncio.Event()

        async def loop() -> None:
            # Stopped by the event, not by cancelling: on Python 3.11 a cancel that arrives as
            # a driver call completes can be lost (asyncio.wait_for), and the loop would then
            # go round forever while stop() waits for it.
            while not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=interval)
                try:
                    await self.flush(db)
                except Exception:  # the next round retries; usage times are best effort
                    log.exception("key_usage_flush_failed")

        self._task = asyncio.create_task(loop(), name="plaudit-key-usage")

    async def stop(self, db: Database, grace: float = 10.0) -> None:
        """Ends the loop, then writes what came during its last round."""
        if self._task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
            except TimeoutError:  # a write that hangs: usage times are not worth a hung stop
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        with contextlib.suppress(Exception):
            await self.flush(db)


async def _key_record(conn: AsyncConnection, cache: AuthCache, prefix: str) -> KeyRecord | None:
    hit, value = cache.lookup(("key", prefix))
    if hit:
        return value  # type: ignore[return-value]
    row = (
        await conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.kind,
                api_keys.c.environment_id,
                api_keys.c.scope_id,
                api_keys.c.secret_hash,
                api_keys.c.status,
                api_keys.c.user_id,
                environments.c.status.label("environment_status"),
            )
            .join(environments, environments.c.id == api_keys.c.environment_id)
            .where(api_keys.c.prefix == prefix)
        )
    ).first()
    record = None
    if row is not None and row.environment_status == "active":
        record = KeyRecord(
            id=row.id,
            kind=row.kind,
            environment_id=row.environment_id,
            scope_id=row.scope_id,
            secret_hash=row.secret_hash,
            active=row.status == "active",
            user_id=row.user_id,
        )
    cache.store(("key", prefix), record)
    return record


async def production_environment(conn: AsyncConnection, cache: AuthCache) -> uuid.UUID:
    hit, value = cache.lookup(("production",))
    if hit:
        return value  # type: ignore[return-value]
    env_id: uuid.UUID = (
        await conn.execute(select(environments.c.id).where(environments.c.type == "production"))
    ).scalar_one()
    cache.store(("production",), env_id)
    return env_id


async def default_scope(conn: AsyncConnection, cache: AuthCache, environment_id: uuid.UUID) -> int:
    hit, value = cache.lookup(("scope", str(environment_id)))
    if hit:
        return value  # type: ignore[return-value]
    scope_id: int = (
        await conn.execute(
            select(scopes.c.id).where(
                scopes.c.environment_id == environment_id, scopes.c.tenant_id.is_(None)
            )
        )
    ).scalar_one()
    cache.store(("scope", str(environment_id)), scope_id)
    return scope_id


async def tenant_scope(
    conn: AsyncConnection, cache: AuthCache, environment_id: uuid.UUID, customer_id: str
) -> int:
    hit, value = cache.lookup(("tenant", str(environment_id), customer_id))
    if not hit:
        value = (
            await conn.execute(
                select(tenants.c.scope_id).where(
                    and_(
                        tenants.c.environment_id == environment_id,
                        tenants.c.customer_id == customer_id,
                        tenants.c.status == "active",
                    )
                )
            )
        ).scalar_one_or_none()
        cache.store(("tenant", str(environment_id), customer_id), value)
    if value is None:
        raise NotFound(f"Tenant '{customer_id}' not found")
    return value  # type: ignore[return-value]


async def authenticate(
    conn: AsyncConnection,
    cache: AuthCache,
    *,
    presented: str | None,
    tenant_header: str | None,
    bootstrap_key: str | None,
    admin_api: bool,
    honor_tenant: bool = True,
) -> Principal:
    if not presented:
        raise Unauthorized("Missing API key: send it in the X-API-KEY header")
    if bootstrap_key is not None and hmac.compare_digest(
        presented.encode("utf-8"), bootstrap_key.encode("utf-8")
    ):
        environment_id = await production_environment(conn, cache)
        record = None
    else:
        prefix = keys.split_prefix(presented)
        record = await _key_record(conn, cache, prefix) if prefix else None
        if record is None or not keys.matches(presented, record.secret_hash):
            raise Unauthorized("Invalid API key")
        if not record.active:
            raise Unauthorized("API key has been revoked")
        environment_id = record.environment_id

    if record is not None and record.kind == "application":
        if admin_api:
            raise Forbidden("Application API keys cannot be used with the Admin API")
        assert record.scope_id is not None
        if tenant_header and honor_tenant:
            requested = await tenant_scope(conn, cache, environment_id, tenant_header)
            if requested != record.scope_id:
                raise Forbidden("API key is not authorized for this tenant")
        return Principal("application", environment_id, record.scope_id, record.id, record.user_id)

    if tenant_header and honor_tenant:
        scope_id = await tenant_scope(conn, cache, environment_id, tenant_header)
    else:
        scope_id = await default_scope(conn, cache, environment_id)
    return Principal("admin", environment_id, scope_id, record.id if record else None)
