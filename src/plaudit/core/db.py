"""Database engines, transactions and the column types shared by every feature.

SQLite (embedded default) and PostgreSQL run the same SQLAlchemy Core statements.
On SQLite every writing transaction starts with `BEGIN IMMEDIATE` on a single pooled
connection, so writers queue instead of failing with "database is locked"; readers use
their own connections and see a consistent WAL snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    Table,
    event,
    func,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from plaudit.core.settings import Settings

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Primary keys that are 64-bit on PostgreSQL and the rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


OnCommit = Callable[[], Awaitable[None] | None]


def on_commit(conn: AsyncConnection, callback: OnCommit) -> None:
    """Run `callback` once the surrounding transaction has committed (never on rollback)."""
    conn.info.setdefault("plaudit_on_commit", []).append(callback)


class Database:
    """Engines for one process; `transaction()` is the only way code gets a connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        if self.is_sqlite:
            self.write_engine = self._sqlite_engine(immediate=True, pool_size=1)
            self.read_engine = self._sqlite_engine(immediate=False, pool_size=4)
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=settings.database_pool_size,
                max_overflow=max(4, settings.database_pool_size // 2),
                pool_pre_ping=False,
                pool_recycle=3600,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                connect_args={"server_settings": {"application_name": "plaudit"}},
            )
            self.read_engine = self.write_engine

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    def _sqlite_engine(self, *, immediate: bool, pool_size: int) -> AsyncEngine:
        from sqlalchemy.pool import AsyncAdaptedQueuePool

        engine = create_async_engine(
            self.url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=120,
            # transaction() always ends its transaction, so the pool's own reset
            # (one more round trip through aiosqlite's thread) is never needed.
            pool_reset_on_return=None,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "connect")
        def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # The driver must not open transactions on its own; we emit BEGIN below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncConnection]:
        """One transaction; committed when the block ends normally, rolled back otherwise."""
        engine = self.write_engine if write else self.read_engine
        async with engine.connect() as conn:
            conn.info.pop("plaudit_on_commit", None)
            # Only SQLite's writing transactions begin IMMEDIATE, with the lock (see fastsql).
            conn.info["plaudit_writer"] = write and self.is_sqlite
            try:
                async with conn.begin():
                    yield conn
            except BaseException:
                conn.info.pop("plaudit_on_commit", None)
                raise
            callbacks: list[OnCommit] = conn.info.pop("plaudit_on_commit", [])
        for callback in callbacks:
            result = callback()
            if result is not None:
                await result

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def dialect_insert(conn: AsyncConnection, table: Table) -> pg.Insert | sqlite.Insert:
    """INSERT with the dialect's ON CONFLICT support (same API on both databases)."""
    if conn.dialect.name == "postgresql":
        return pg.insert(table)
    return sqlite.insert(table)


def insert_for(dialect: str, table: Table) -> pg.Insert | sqlite.Insert:
    """Like `dialect_insert`, for statements built once per dialect and cached."""
    return pg.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def json_text(column: ColumnElement[Any], key: str, dialect: str) -> ColumnElement[Any]:
    """The text value at `key` of a JSON object column (NULL when absent)."""
    if dialect == "postgresql":
        return column.op("->>")(key)
    return func.json_extract(column, '$."' + key.replace('"', "") + '"')
