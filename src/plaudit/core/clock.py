"""The only source of "now". Requests and jobs read it once and pass it to every rule.

The test clock lives in the database so that every process of a server sees the same,
frozen time; it only moves through `PUT /admin/v1/test-clock`.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import Column, Integer, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import UTCDateTime, dialect_insert, metadata

test_clock_table = Table(
    "test_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("now", UTCDateTime, nullable=False),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Clock(Protocol):
    is_test_clock: bool

    async def now(self, conn: AsyncConnection) -> dt.datetime: ...


class SystemClock:
    is_test_clock = False

    async def now(self, conn: AsyncConnection) -> dt.datetime:
        return utcnow()


class DatabaseClock:
    """A frozen clock shared through the database; it starts at the real time."""

    is_test_clock = True

    async def now(self, conn: AsyncConnection) -> dt.datetime:
        value = await conn.scalar(select(test_clock_table.c.now).where(test_clock_table.c.id == 1))
        if value is None:
            value = utcnow()
            await self.set(conn, value)
        return value

    async def set(self, conn: AsyncConnection, when: dt.datetime) -> None:
        stmt = dialect_insert(conn, test_clock_table).values(id=1, now=when)
        await conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"now": when}))

    async def reset_to_real_time(self, conn: AsyncConnection) -> None:
        await self.set(conn, utcnow())

    async def advance(self, conn: AsyncConnection, when: dt.datetime) -> None:
        await conn.execute(
            update(test_clock_table).where(test_clock_table.c.id == 1).values(now=when)
        )
