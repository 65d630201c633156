"""Recording events and adding them to totals, set-based (one statement per step).

The idempotency check *is* the insert: `ON CONFLICT DO NOTHING` on the unique
(user, metric, key) index. A concurrent duplicate waits on that index entry and then sees
the conflict, so exactly one of them is recorded. Totals are added with one atomic upsert
that returns the new values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert

from plaudit.core import fastsql
from plaudit.core.db import insert_for
from plaudit.core.errors import Unprocessable
from plaudit.core.fastsql import FastStatement
from plaudit.core.ids import new_id
from plaudit.events.tables import events
from plaudit.metrics.rules import MAX_MICRO, MAX_VALUE
from plaudit.metrics.tables import metric_totals


@dataclass(frozen=True, slots=True)
class NewEvent:
    user_pk: int
    metric_id: uuid.UUID
    value: int
    attributes: dict[str, str] | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What happened to one NewEvent: recorded (with its id) or a replay of an earlier one."""

    event_id: uuid.UUID | None
    replayed: bool


def _event_row(event: NewEvent, scope_id: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "scope_id": scope_id,
        "user_pk": event.user_pk,
        "metric_id": event.metric_id,
        "value": event.value,
        "attributes": event.attributes or None,
        "idempotency_key": event.idempotency_key,
        "created": now,
    }


async def record(
    conn: AsyncConnection, scope_id: int, new_events: Sequence[NewEvent], now: dt.datetime
) -> list[Recorded]:
    """Insert the events that are not replays; results are in input order."""
    rows: list[dict[str, Any]] = []
    seen_keys: set[tuple[int, uuid.UUID, str]] = set()
    planned: list[uuid.UUID | None] = []
    for event in new_events:
        if event.idempotency_key is not None:
            identity = (event.user_pk, event.metric_id, event.idempotency_key)
            if identity in seen_keys:  # an earlier item of the same batch used the key
                planned.append(None)
                continue
            seen_keys.add(identity)
        row = _event_row(event, scope_id, now)
        planned.append(row["id"])
        rows.append(row)
    inserted: set[uuid.UUID] = set()
    if rows:
        inserted = {row["id"] for row in await fastsql.fetch_rows(conn, _RECORD, rows)}
    return [
        Recorded(event_id, replayed=False)
        if event_id in inserted
        else Recorded(None, replayed=True)
        for event_id in planned
    ]


async def original_event_id(
    conn: AsyncConnection, user_pk: int, metric_id: uuid.UUID, idempotency_key: str
) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.scalar(
        select(events.c.id).where(
            events.c.user_pk == user_pk,
            events.c.metric_id == metric_id,
            events.c.idempotency_key == idempotency_key,
        )
    )
    return found


async def add_to_totals(
    conn: AsyncConnection,
    scope_id: int,
    additions: Sequence[tuple[int, uuid.UUID, int]],
    now: dt.datetime,
) -> dict[tuple[int, uuid.UUID], int]:
    """Add (user_pk, metric_id, value) to the totals; the new total of each pair."""
    summed: dict[tuple[int, uuid.UUID], list[int]] = defaultdict(lambda: [0, 0])
    for user_pk, metric_id, value in additions:
        pair = summed[(user_pk, metric_id)]
        pair[0] += value
        pair[1] += 1
    if not summed:
        return {}
    if any(abs(value) > 2 * MAX_MICRO for value, _count in summed.values()):
        raise _total_out_of_range()  # no stored total could absorb it and stay in range
    rows = [
        {
            "user_pk": user_pk,
            "metric_id": metric_id,
            "scope_id": scope_id,
            "total": value,
            "event_count": count,
            "first_event_at": now,
            "last_event_at": now,
        }
        for (user_pk, metric_id), (value, count) in sorted(
            summed.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))
        )
    ]
    try:
        result = await fastsql.fetch_rows(conn, _TOTALS, rows)
    except DBAPIError as exc:
        if "out of range" in str(exc.orig).lower():
            raise _total_out_of_range() from None
        raise
    totals: dict[tuple[int, uuid.UUID], int] = {}
    for row in result:
        totals[(row["user_pk"], row["metric_id"])] = _in_range(row["total"])
    return totals


# Built once per dialect; on PostgreSQL a single event takes the fast path (core/fastsql).
_RECORD = FastStatement(
    lambda dialect: (
        insert_for(dialect, events)
        .on_conflict_do_nothing(
            index_elements=["user_pk", "metric_id", "idempotency_key"],
            index_where=text("idempotency_key IS NOT NULL"),
        )
        .returning(events.c.id)
    )
)


def _build_totals(dialect: str) -> ReturningInsert[Any]:
    insert = insert_for(dialect, metric_totals)
    return insert.on_conflict_do_update(
        index_elements=["user_pk", "metric_id"],
        set_={
            "total": metric_totals.c.total + insert.excluded.total,
            "event_count": metric_totals.c.event_count + insert.excluded.event_count,
            "last_event_at": insert.excluded.last_event_at,
        },
    ).returning(metric_totals.c.user_pk, metric_totals.c.metric_id, metric_totals.c.total)


_TOTALS = FastStatement(_build_totals)


_EVENT_COLUMNS = (
    "id",
    "scope_id",
    "user_pk",
    "metric_id",
    "value",
    "attributes",
    "idempotency_key",
    "created",
)


def _build_record_and_add(dialect: str) -> ReturningInsert[Any]:
    """PostgreSQL: insert one event and add it to its total in one statement.

    The insert is a data-modifying CTE; when it is skipped (an idempotent replay) nothing
    reaches the totals and no row comes back.
    """
    recorded = (
        insert_for(dialect, events)
        .values({name: bindparam(name, type_=events.c[name].type) for name in _EVENT_COLUMNS})
        .on_conflict_do_nothing(
            index_elements=["user_pk", "metric_id", "idempotency_key"],
            index_where=text("idempotency_key IS NOT NULL"),
        )
        .returning(
            events.c.id,
            events.c.scope_id,
            events.c.user_pk,
            events.c.metric_id,
            events.c.value,
            events.c.created,
        )
        .cte("recorded")
    )
    add = insert_for(dialect, metric_totals).from_select(
        [
            "user_pk",
            "metric_id",
            "scope_id",
            "total",
            "event_count",
            "first_event_at",
            "last_event_at",
        ],
        select(
            recorded.c.user_pk,
            recorded.c.metric_id,
            recorded.c.scope_id,
            recorded.c.value,
            literal_column("1", BigInteger),
            recorded.c.created,
            recorded.c.created,
        ),
    )
    return add.on_conflict_do_update(
        index_elements=["user_pk", "metric_id"],
        set_={
            "total": metric_totals.c.total + add.excluded.total,
            "event_count": metric_totals.c.event_count + add.excluded.event_count,
            "last_event_at": add.excluded.last_event_at,
        },
    ).returning(metric_totals.c.total, select(recorded.c.id).scalar_subquery().label("event_id"))


_RECORD_AND_ADD = FastStatement(_build_record_and_add)


async def record_and_add(
    conn: AsyncConnection, scope_id: int, new_events: Sequence[NewEvent], now: dt.datetime
) -> tuple[list[Recorded], dict[tuple[int, uuid.UUID], int]]:
    """Record the events that are not replays and add them to the totals.

    Returns what happened to each event (in input order) and the new total of every
    (user_pk, metric_id) that changed.
    """
    if conn.dialect.name == "postgresql" and len(new_events) == 1:
        event = new_events[0]
        try:
            rows = await fastsql.fetch(conn, _RECORD_AND_ADD, _event_row(event, scope_id, now))
        except DBAPIError as exc:
            if "out of range" in str(exc.orig).lower():
                raise _total_out_of_range() from None
            raise
        if not rows:
            return [Recorded(None, replayed=True)], {}
        return [Recorded(rows[0]["event_id"], replayed=False)], {
            (event.user_pk, event.metric_id): _in_range(rows[0]["total"])
        }
    recorded = await record(conn, scope_id, new_events, now)
    counted = [
        (event.user_pk, event.metric_id, event.value)
        for event, result in zip(new_events, recorded, strict=True)
        if not result.replayed
    ]
    return recorded, await add_to_totals(conn, scope_id, counted, now)


def _in_range(total: object) -> int:
    # SQLite turns an overflowing integer sum into a float instead of failing.
    if not isinstance(total, int) or abs(total) > MAX_MICRO:
        raise _total_out_of_range()
    return total


def _total_out_of_range() -> Unprocessable:
    return Unprocessable(f"The metric total would leave the supported range of ±{MAX_VALUE}")


async def current_total(conn: AsyncConnection, user_pk: int, metric_id: uuid.UUID) -> int:
    found = await conn.scalar(
        select(metric_totals.c.total).where(
            metric_totals.c.user_pk == user_pk, metric_totals.c.metric_id == metric_id
        )
    )
    return int(found or 0)
