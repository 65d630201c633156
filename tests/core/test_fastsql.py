"""Bulk writes of the hot path: many rows as one `unnest` statement on PostgreSQL, an
executemany elsewhere; the rows written are the same either way."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, select
from sqlalchemy.dialects import postgresql

from plaudit.core import fastsql
from plaudit.core.db import JsonDoc, UTCDateTime, insert_for
from plaudit.core.fastsql import FastStatement, _unnest
from tests.conftest import Stack

metadata = MetaData()
scratch = Table(
    "fastsql_scratch",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("label", String(20), nullable=True),
    Column("doc", JsonDoc, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)


def _upsert(dialect: str) -> object:
    statement = insert_for(dialect, scratch)
    return statement.on_conflict_do_update(
        index_elements=["id"], set_={"n": statement.excluded.n + scratch.c.n}
    )


INSERT = FastStatement(lambda _d: scratch.insert(), unnest=True)
UPSERT = FastStatement(_upsert, unnest=True)  # type: ignore[arg-type]


def test_an_insert_becomes_one_statement_of_arrays() -> None:
    sql = "INSERT INTO t (a, b) VALUES ($1::BIGINT, $2::TIMESTAMP WITH TIME ZONE)"
    assert _unnest(sql) == (
        "INSERT INTO t (a, b) SELECT * FROM unnest($1::BIGINT[], $2::TIMESTAMP WITH TIME ZONE[])"
    )
    upsert = "INSERT INTO t (a) VALUES ($1::UUID) ON CONFLICT (a) DO UPDATE SET a = excluded.a"
    assert _unnest(upsert) == (
        "INSERT INTO t (a) SELECT * FROM unnest($1::UUID[]) "
        "ON CONFLICT (a) DO UPDATE SET a = excluded.a"
    )


def test_a_statement_with_parameters_outside_its_values_is_refused() -> None:
    sql = "INSERT INTO t (a) VALUES ($1::BIGINT) ON CONFLICT (a) DO UPDATE SET b = $2::BIGINT"
    assert _unnest(sql) is None
    assert _unnest("UPDATE t SET a = $1::BIGINT") is None
    literal = FastStatement(lambda _d: scratch.update().values(n=5), unnest=True)
    with pytest.raises(ValueError, match="not an INSERT of parameters"):
        literal.compiled(postgresql.asyncpg.dialect(), ("n",))


async def test_bulk_rows_are_written_exactly(stack: Stack) -> None:
    at = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "n": n,
            "label": None if n % 2 else f"l{n}",
            "doc": {"n": [n]},
            "at": at,
        }
        for n in range(5)
    ]
    async with stack.runtime.db.transaction() as conn:
        await conn.run_sync(lambda sync: metadata.create_all(sync))
    try:
        async with stack.runtime.db.transaction() as conn:
            await fastsql.execute_many(conn, INSERT, rows)
            # Adds to the rows it meets: each key once per call.
            await fastsql.execute_many(
                conn, UPSERT, [{**row, "n": 10, "doc": {}} for row in rows[:3]]
            )
        async with stack.runtime.db.transaction(write=False) as conn:
            found = {
                row.id: (row.n, row.label, row.doc, row.at)
                for row in await conn.execute(select(scratch))
            }
        assert found == {
            row["id"]: (row["n"] + (10 if i < 3 else 0), row["label"], row["doc"], at)
            for i, row in enumerate(rows)
        }
    finally:
        async with stack.runtime.db.transaction() as conn:
            await conn.run_sync(lambda sync: metadata.drop_all(sync))
