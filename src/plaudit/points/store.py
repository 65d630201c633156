"""The points hot path's statements: balances and high-water marks of locked users, and
the award, balance and mark writes of a request.

Statements are built once per dialect (`FastStatement`): a single event's reads are one
statement per user; its writes are one executemany per table, sent on the driver
connection underneath the request's (the write-locked sqlite3 connection, or asyncpg),
the way `core.fastsql` runs single statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import fastsql
from plaudit.core.db import insert_for
from plaudit.core.fastsql import FastStatement
from plaudit.points.rules import Marks
from plaudit.points.tables import points_awards, points_balances, points_marks

_BALANCES = FastStatement(
    lambda _d: select(points_balances.c.system_id, points_balances.c.total).where(
        points_balances.c.user_pk == bindparam("user_pk")
    )
)
_MARKS = FastStatement(
    lambda _d: select(points_marks.c.trigger_id, points_marks.c.acc, points_marks.c.hwm).where(
        points_marks.c.user_pk == bindparam("user_pk")
    )
)


def _upsert_marks(dialect: str) -> Any:
    statement = insert_for(dialect, points_marks)
    return statement.on_conflict_do_update(
        index_elements=["user_pk", "trigger_id"],
        set_={"acc": statement.excluded.acc, "hwm": statement.excluded.hwm},
    )


def _upsert_balances(dialect: str) -> Any:
    statement = insert_for(dialect, points_balances)
    return statement.on_conflict_do_update(
        index_elements=["user_pk", "system_id"],
        set_={"total": statement.excluded.total, "updated": statement.excluded.updated},
    )


_SAVE_MARKS = FastStatement(_upsert_marks)
_SAVE_BALANCES = FastStatement(_upsert_balances)
_INSERT_AWARDS = FastStatement(lambda _d: points_awards.insert())


async def balances(conn: AsyncConnection, pks: Iterable[int]) -> dict[tuple[int, uuid.UUID], int]:
    found: dict[tuple[int, uuid.UUID], int] = {}
    for pk in sorted(set(pks)):
        for row in await fastsql.fetch(conn, _BALANCES, {"user_pk": pk}):
            found[(pk, row["system_id"])] = row["total"]
    return found


async def marks(conn: AsyncConnection, pks: Iterable[int]) -> dict[tuple[int, uuid.UUID], Marks]:
    found: dict[tuple[int, uuid.UUID], Marks] = {}
    for pk in sorted(set(pks)):
        for row in await fastsql.fetch(conn, _MARKS, {"user_pk": pk}):
            found[(pk, row["trigger_id"])] = Marks(row["acc"], row["hwm"])
    return found


async def save_marks(conn: AsyncConnection, changed: Mapping[tuple[int, uuid.UUID], Marks]) -> None:
    await fastsql.execute_many(
        conn,
        _SAVE_MARKS,
        [
            {"user_pk": pk, "trigger_id": trigger, "acc": m.acc, "hwm": m.hwm}
            for (pk, trigger), m in sorted(changed.items())
        ],
    )


async def save_balances(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    await fastsql.execute_many(conn, _SAVE_BALANCES, rows)


async def insert_awards(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    await fastsql.execute_many(conn, _INSERT_AWARDS, rows)
