"""Everything one process shares: settings, database, clock, caches, limiter, job lock.

The API app and `plaudit worker` each build one `Runtime`; nothing in it is the source of
truth for anything another process needs (that is the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from plaudit.core.clock import Clock, DatabaseClock, SystemClock
from plaudit.core.db import Database
from plaudit.core.notify import Listener, ListenStatus
from plaudit.core.ratelimit import RateLimiter
from plaudit.core.settings import Settings
from plaudit.platform.auth import AuthCache, KeyUsage
from plaudit.platform.config import ConfigCache, handle_config_message

log = structlog.get_logger("plaudit.runtime")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    config: ConfigCache
    auth: AuthCache
    key_usage: KeyUsage
    limiter: RateLimiter | None
    listen: ListenStatus
    # Serializes job running inside this process so the test clock runs work in time order.
    job_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    listener: Listener | None = None
    # Set when this process runs the embedded worker, so enqueuers can wake it at once.
    worker_wakeup: Callable[[], None] | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        listen = ListenStatus()
        return cls(
            settings=settings,
            db=Database(settings),
            clock=DatabaseClock() if settings.test_clock else SystemClock(),
            config=ConfigCache(listen),
            auth=AuthCache(settings.auth_cache_seconds, listen),
            key_usage=KeyUsage(),
            limiter=RateLimiter(settings) if settings.rate_limit_enabled else None,
            listen=listen,
        )

    def test_clock(self) -> DatabaseClock:
        assert isinstance(self.clock, DatabaseClock), "the test clock is not enabled"
        return self.clock

    def wake_worker(self) -> None:
        if self.worker_wakeup is not None:
            self.worker_wakeup()

    def _on_notification(self, message: str) -> None:
        if message == "auth":
            self.auth.clear()
        elif not handle_config_message(self.config, message):
            log.warning("unknown_notification", message=message)

    def _on_listener_reset(self) -> None:
        self.auth.clear()
        self.config.clear()

    async def start(self) -> None:
        if not self.db.is_sqlite:
            self.listener = Listener(
                self.settings.database_url,
                self.listen,
                self._on_notification,
                self._on_listener_reset,
            )
            self.listener.start()
        self.key_usage.start(self.db)
        if isinstance(self.clock, DatabaseClock):
            # The first reading stores the clock; doing it here, in a write transaction,
            # keeps every later reading a pure read (SQLite refuses writes in read-only ones).
            async with self.db.transaction() as conn:
                await self.clock.now(conn)

    async def stop(self) -> None:
        await self.key_usage.stop(self.db)
        if self.listener is not None:
            await self.listener.stop()
        await self.db.dispose()
