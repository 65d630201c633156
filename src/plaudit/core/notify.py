"""Cross-process change notifications.

On PostgreSQL, configuration and key writes `pg_notify` inside their transaction (delivered
only on commit) and every process listens, so caches drop stale entries within
milliseconds. Without a listener (SQLite, or while reconnecting) callers fall back to
cheap version checks and short TTLs: a lost notification can delay a change, never hide it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "plaudit"
CLOSE_SECONDS = 2.0
log = structlog.get_logger("plaudit.notify")


async def publish(conn: AsyncConnection, message: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_notify(:channel, :message)"), {"channel": CHANNEL, "message": message}
        )


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ListenStatus:
    """Shared by the listener and the caches: true only while notifications arrive."""

    healthy: bool = False


class Listener:
    """Keeps one LISTEN connection open and reports its health in `status`."""

    def __init__(
        self,
        database_url: str,
        status: ListenStatus,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None],
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.status = status
        self._on_message = on_message
        self._on_reset = on_reset
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="plaudit-notify-listener")

    async def stop(self) -> None:
        if self._task is not None:
            # The flag ends the loop should the cancel be lost (Python 3.11's wait_for, as
            # asyncpg.connect uses it, can swallow one that arrives as the call completes).
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.status.healthy = False

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_message(payload)

    async def _run(self) -> None:
        import asyncpg

        delay = 0.5
        while not self._stopping:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("notify_listener_connect_failed", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            try:
                await conn.add_listener(CHANNEL, self._deliver)
                # Anything may have changed while we were not listening.
                self._on_reset()
                self.status.healthy = True
                delay = 0.5
                while not conn.is_closed() and not self._stopping:
                    await asyncio.sleep(5)
                    await conn.execute("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("notify_listener_lost", error=str(exc))
            finally:
                self.status.healthy = False
                await _close(conn)


async def _close(conn: Any) -> None:
    """Closes the LISTEN connection politely if that is quick, else drops it: a stop
    must never wait on a server that does not answer (a cancelled `SELECT 1` leaves a
    cancel request that a graceful close would wait for without bound)."""
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await conn.close(timeout=CLOSE_SECONDS)
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise
