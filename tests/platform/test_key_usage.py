"""The background writer of keys' last-use times stops cleanly, whatever it is doing."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from pathlib import Path

from plaudit.core.db import Database
from plaudit.core.settings import Settings
from plaudit.platform.auth import KeyUsage


class SlowKeyUsage(KeyUsage):
    """Each write takes a while and, like a driver call on Python 3.11 that completes as it
    is cancelled, lets a cancel go by: only its own flag can end the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[set[uuid.UUID]] = []
        self.writing = asyncio.Event()

    async def flush(self, db: Database) -> None:
        pending, self._pending = self._pending, {}
        self.writing.set()
        with contextlib.suppress(asyncio.CancelledError):  # the lost cancel
            await asyncio.sleep(0.2)
        self.writes.append(set(pending))


async def test_stop_during_a_write_ends_the_loop_and_writes_what_came_since(
    tmp_path: Path,
) -> None:
    db = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    usage = SlowKeyUsage()
    first, later = uuid.uuid4(), uuid.uuid4()
    usage.record(first, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    usage.start(db, interval=0.01)
    await asyncio.wait_for(usage.writing.wait(), timeout=5)
    usage.record(later, dt.datetime(2026, 1, 2, tzinfo=dt.UTC))  # while the write runs
    await asyncio.wait_for(usage.stop(db), timeout=5)
    assert usage.writes[0] == {first}
    assert usage.writes[-1] == {later}
    assert usage._task is not None
    assert usage._task.done()
    await db.dispose()
