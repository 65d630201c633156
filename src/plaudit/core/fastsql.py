"""The event hot path's statements, executed with as little per-statement overhead as we can.

The statements are ordinary SQLAlchemy Core, compiled once per dialect (and set of
columns), with SQLAlchemy's own bind (and, on SQLite, result) processors applied. A
single-row execution goes straight to the driver connection underneath the request's
SQLAlchemy connection, in the same transaction:

- PostgreSQL: the asyncpg connection. SQLAlchemy's async execution layer costs ~0.3 ms
  of CPU per statement on the 2-core reference machine, against asyncpg's ~0.06 ms.
- SQLite: the sqlite3 connection, called from the event loop. aiosqlite hands every
  call to its own thread and back (~20 hand-offs per event, most of an event's CPU).
  This is only done inside a writing transaction, which `BEGIN IMMEDIATE` started with
  the database's write lock held, so these statements never wait on a lock and take
  microseconds; the commit (the fsync) still runs in aiosqlite's thread.

Multi-row executions (batches) keep SQLAlchemy's "insertmanyvalues", already one statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

Row = Mapping[str, Any]
Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: dict[str, Processor]
    defaults: dict[str, Any]  # values of bound literals the caller does not pass
    columns: tuple[tuple[str, Processor | None], ...]  # result keys and their processors

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **params} if self.defaults else params
        return [
            self.processors[name](values[name]) if name in self.processors else values[name]
            for name in self.names
        ]

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            key: process(value) if process is not None and value is not None else value
            for (key, process), value in zip(self.columns, raw, strict=True)
        }


class FastStatement:
    """A statement built by `build(dialect_name)`, cached per dialect and column set."""

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._statements: dict[str, Executable] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def statement(self, dialect: str) -> Executable:
        found = self._statements.get(dialect)
        if found is None:
            found = self._statements[dialect] = self._build(dialect)
        return found

    def compiled(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = self._compiled[(dialect.name, keys)] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        statement = cast(ClauseElement, self.statement(dialect.name))
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        processors = {
            name: processor
            for name, processor in compiled._bind_processors.items()
            if name in names and processor is not None
        }
        defaults = {
            name: compiled.binds[name].value
            for name in names
            if name not in keys and not compiled.binds[name].required
        }
        columns = tuple(
            (column.keyname, column.type._cached_result_processor(dialect, None))
            for column in compiled._result_columns
        )
        return _Compiled(compiled.string, names, processors, defaults, columns)  # type: ignore[arg-type]


async def _driver_adapter(conn: AsyncConnection) -> Any:
    """SQLAlchemy's adapter of the driver connection under `conn`. Kept in the pool
    record's `info`, which lives exactly as long as that driver connection (the pool
    clears it on reconnect): asking the pool for it costs a greenlet switch per statement,
    about a twentieth of a plain event's CPU."""
    adapter = conn.info.get("plaudit_adapter")
    if adapter is None:
        fairy = await conn.get_raw_connection()
        adapter = conn.info["plaudit_adapter"] = fairy.dbapi_connection
    return adapter


async def _asyncpg_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, with the SQLAlchemy transaction begun on it."""
    adapter = await _driver_adapter(conn)
    if adapter._transaction is None and adapter.isolation_level != "autocommit":
        await adapter._start_transaction()
    return adapter._connection


async def _sqlite_writer(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3 connection under `conn` when it holds the write lock, else None."""
    if not conn.info.get("plaudit_writer"):
        return None
    raw: sqlite3.Connection = (await _driver_adapter(conn))._connection._conn
    return raw if raw.in_transaction else None


async def fetch(
    conn: AsyncConnection, statement: FastStatement, params: Mapping[str, Any]
) -> list[Row]:
    """Rows of `statement` executed once with `params`."""
    dialect = conn.dialect
    if dialect.name == "postgresql":
        import asyncpg

        compiled = statement.compiled(dialect, tuple(params))
        args = compiled.args(params)
        driver = await _asyncpg_connection(conn)
        try:
            return await driver.fetch(compiled.sql, *args)  # type: ignore[no-any-return]
        except asyncpg.PostgresError as exc:
            raise DBAPIError(compiled.sql, args, exc) from exc
    raw = await _sqlite_writer(conn)
    if raw is not None:
        compiled = statement.compiled(dialect, tuple(params))
        args = compiled.args(params)
        try:
            rows = raw.execute(compiled.sql, args).fetchall()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, args, exc, sqlite3.Error) from exc
        return [compiled.row(row) for row in rows]
    result = await conn.execute(statement.statement(dialect.name), dict(params))
    return [dict(row) for row in result.mappings()] if result.returns_rows else []


async def fetch_rows(
    conn: AsyncConnection, statement: FastStatement, rows: Sequence[Mapping[str, Any]]
) -> list[Row]:
    """`statement` for each of `rows`: one row takes the fast path, many go as one batch."""
    if len(rows) == 1:
        return await fetch(conn, statement, rows[0])
    result = await conn.execute(statement.statement(conn.dialect.name), [dict(r) for r in rows])
    return [dict(row) for row in result.mappings()] if result.returns_rows else []


async def execute_sql(conn: AsyncConnection, sql: str, args: Sequence[Any]) -> None:
    """PostgreSQL only: `sql` (written for asyncpg, `$n` parameters) executed once with
    `args` on the driver connection, in the request's transaction."""
    import asyncpg

    driver = await _asyncpg_connection(conn)
    try:
        await driver.execute(sql, *args)
    except asyncpg.PostgresError as exc:
        raise DBAPIError(sql, args, exc) from exc


async def execute_many(
    conn: AsyncConnection, statement: FastStatement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`statement` for every row (all with the same keys), as one executemany on the driver
    connection underneath (the same connection and transaction `fetch` uses)."""
    if not rows:
        return
    dialect = conn.dialect
    compiled = statement.compiled(dialect, tuple(rows[0]))
    if dialect.name == "postgresql":
        import asyncpg

        args = [compiled.args(row) for row in rows]
        driver = await _asyncpg_connection(conn)
        try:
            await driver.executemany(compiled.sql, args)
        except asyncpg.PostgresError as exc:
            raise DBAPIError(compiled.sql, args, exc) from exc
        return
    raw = await _sqlite_writer(conn)
    if raw is None:
        await conn.execute(statement.statement(dialect.name), [dict(r) for r in rows])
        return
    args = [compiled.args(row) for row in rows]
    try:
        raw.executemany(compiled.sql, args)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(compiled.sql, args, exc, sqlite3.Error) from exc
