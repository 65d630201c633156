"""The points hot path's statements: the balances and high-water marks of locked users,
and the award, balance and mark writes of a request.

A request reads its users' marks and balances in one statement, and writes everything it
changed in one more: on PostgreSQL a single statement that inserts the awards and upserts
the marks and balances from JSON parameters (one round trip and one execution, where an
executemany per table costs three round trips and a plan execution per row); on SQLite,
which runs in-process with no round trips, an executemany per table on the write-locked
connection (`core.fastsql`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import fastsql
from plaudit.core.db import insert_for
from plaudit.core.fastsql import FastStatement
from plaudit.points.rules import Marks
from plaudit.points.tables import points_awards, points_balances, points_marks

Row = Mapping[str, Any]
MarkKey = tuple[int, uuid.UUID]  # (user pk, trigger id)
BalanceKey = tuple[int, uuid.UUID]  # (user pk, system id)

_MARK = 0
_BALANCE = 1


def _pk_among(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """`column` is one of the user pks bound as `pks` (one array, or on SQLite one JSON
    parameter, so the statement compiles once for any number of users)."""
    if dialect == "postgresql":
        return column == any_(bindparam("pks", type_=ARRAY(BigInteger)))
    return column.in_(
        select(literal_column("value")).select_from(func.json_each(bindparam("pks", type_=JSON)))
    )


def _pk_is(column: ColumnElement[Any], _dialect: str) -> ColumnElement[bool]:
    return column == bindparam("pk")


Condition = Callable[[ColumnElement[Any], str], ColumnElement[bool]]


def _build_state(dialect: str, users_match: Condition) -> Any:
    marks = select(
        literal_column(str(_MARK), BigInteger).label("kind"),
        points_marks.c.user_pk,
        points_marks.c.trigger_id.label("id"),
        points_marks.c.acc.label("value"),
        points_marks.c.hwm,
    ).where(users_match(points_marks.c.user_pk, dialect))
    balances = select(
        literal_column(str(_BALANCE), BigInteger),
        points_balances.c.user_pk,
        points_balances.c.system_id,
        points_balances.c.total,
        literal_column("0", BigInteger),
    ).where(users_match(points_balances.c.user_pk, dialect))
    return marks.union_all(balances)


# One user (an event) has a statement of its own: PostgreSQL estimates `= ANY(array)` at
# ten values, prefers a fresh plan for each execution to the cached generic one, and
# planning the union costs more than running it (~0.2 ms of a single event's CPU).
_STATE_OF_ONE = FastStatement(lambda dialect: _build_state(dialect, _pk_is))
_STATE_OF_MANY = FastStatement(lambda dialect: _build_state(dialect, _pk_among))


@dataclass(slots=True)
class State:
    """What the points step knows of some users: their marks and balances."""

    marks: dict[MarkKey, Marks] = field(default_factory=dict)
    balances: dict[BalanceKey, int] = field(default_factory=dict)


async def state(conn: AsyncConnection, pks: Iterable[int]) -> State:
    """The marks and balances of `pks` (users whose rows the caller holds locked)."""
    found = State()
    wanted = sorted(set(pks))
    if not wanted:
        return found
    rows = await (
        fastsql.fetch(conn, _STATE_OF_ONE, {"pk": wanted[0]})
        if len(wanted) == 1
        else fastsql.fetch(conn, _STATE_OF_MANY, {"pks": wanted})
    )
    for row in rows:
        if row["kind"] == _MARK:
            found.marks[(row["user_pk"], row["id"])] = Marks(row["value"], row["hwm"])
        else:
            found.balances[(row["user_pk"], row["id"])] = row["value"]
    return found


# The writes, for SQLite: one executemany per table.


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


# The writes, for PostgreSQL: one statement. Each part's rows travel as one JSON text
# (orjson writes the ids, times and nested boosts) read back by `json_to_recordset`: as
# arrays, asyncpg inspects every element on the way (about a tenth of a millisecond for
# one event's ten awards), and an executemany costs a round trip and a plan execution
# per row.

_CONFLICTS = {
    "points_marks": ("(user_pk, trigger_id)", ("acc", "hwm")),
    "points_balances": ("(user_pk, system_id)", ("total", "updated")),
}


def _recordset_part(table: Table, parameter: int) -> str:
    """`INSERT INTO table SELECT ... FROM json_to_recordset($parameter)`, upserting where
    `_CONFLICTS` says."""
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    names = ", ".join(c.name for c in table.columns)
    typed = ", ".join(f"{c.name} {c.type.compile(dialect=pg)}" for c in table.columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_to_recordset(${parameter}::text::json) AS given({typed})"
    )
    conflict = _CONFLICTS.get(table.name)
    if conflict is not None:
        target, updated = conflict
        assignments = ", ".join(f"{name} = excluded.{name}" for name in updated)
        sql += f" ON CONFLICT {target} DO UPDATE SET {assignments}"
    return sql


_WRITE_ORDER = (points_marks, points_awards, points_balances)


@cache
def _pg_write(present: tuple[bool, bool, bool]) -> str:
    """The one statement writing the present parts of (marks, awards, balances)."""
    parts: list[str] = []
    for table, wanted in zip(_WRITE_ORDER, present, strict=True):
        if wanted:
            parts.append(f"write_{table.name} AS ({_recordset_part(table, len(parts) + 1)})")
    return f"WITH {', '.join(parts)} SELECT 1"


async def write(
    conn: AsyncConnection,
    marks: Mapping[MarkKey, Marks],
    awards: Sequence[Row],
    balances: Sequence[Row],
) -> None:
    """Write changed marks, new award rows (keyed by column name) and changed balances
    (keyed by column name), in key order so that concurrent requests never deadlock."""
    mark_rows = [
        {"user_pk": pk, "trigger_id": trigger, "acc": m.acc, "hwm": m.hwm}
        for (pk, trigger), m in sorted(marks.items())
    ]
    parts = (mark_rows, awards, balances)
    if not any(parts):
        return
    if conn.dialect.name == "postgresql":
        # asyncpg reads ids as its own UUID class, which orjson leaves to `default`.
        args = [orjson.dumps(rows, default=str).decode() for rows in parts if rows]
        await fastsql.execute_sql(conn, _pg_write(tuple(bool(p) for p in parts)), args)
        return
    await fastsql.execute_many(conn, _SAVE_MARKS, mark_rows)
    await fastsql.execute_many(conn, _INSERT_AWARDS, awards)
    await fastsql.execute_many(conn, _SAVE_BALANCES, balances)
