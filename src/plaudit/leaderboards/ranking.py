"""Ranks and pages of one run's group, read from the rank index of `leaderboard_entries`.

Why this structure: every question a leaderboard answers is about the first
`maxParticipants` entries of one (board, run, group) in ranking order, and the index
`(leaderboard_id, run_start, group_key, neg_value, reached_at, user_key)` holds them in
exactly that order. So

- a user's rank is the number of entries before theirs — one row-value comparison on the
  index, counted with a LIMIT of `maxParticipants` (a user further down is simply not
  ranked): it never reads more than the ranking itself and never sorts;
- a page (top N, "around me") is an index range read from a known position;
- the threshold is the entry at position `maxParticipants`.

The cost of a rank is bounded by the user's position (at most `maxParticipants` index
entries, read sequentially from one leaf chain): microseconds for the default 1,000 and
a few milliseconds at 100,000. Boards configured far larger than that want Redis sorted
sets, O(log n) per rank (see `redis_ranks`), kept as a cache of this table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import fastsql
from plaudit.core.fastsql import FastStatement
from plaudit.leaderboards.tables import leaderboard_entries as entries
from plaudit.users.service import id_among
from plaudit.users.tables import users


@dataclass(frozen=True, slots=True)
class Slot:
    """One independent ranking: a run of a board, one breakdown group."""

    board_id: uuid.UUID
    run_start: dt.date
    group: str


@dataclass(frozen=True, slots=True)
class Ranked:
    user_pk: int
    user_id: str
    user_name: str | None
    rank: int
    value: int  # millionths


@dataclass(frozen=True, slots=True)
class Entry:
    """A user's entry in one run, whichever group it is in."""

    neg_value: int
    reached_at: dt.datetime
    group_key: str


@dataclass(frozen=True, slots=True)
class UserEntry:
    user_pk: int
    entry: Entry | None  # None: the user has no entry in this run


# The user and their entry in one round trip: every per-user read starts with both.
_USER_ENTRY = FastStatement(
    lambda _dialect: (
        select(users.c.pk, entries.c.neg_value, entries.c.reached_at, entries.c.group_key)
        .select_from(
            users.outerjoin(
                entries,
                and_(
                    entries.c.user_pk == users.c.pk,
                    entries.c.leaderboard_id == bindparam("board_id"),
                    entries.c.run_start == bindparam("run_start"),
                ),
            )
        )
        .where(users.c.scope_id == bindparam("scope_id"), users.c.id == bindparam("user_id"))
    )
)


async def user_entry(
    conn: AsyncConnection, scope_id: int, user_id: str, board_id: uuid.UUID, run_start: dt.date
) -> UserEntry | None:
    """None when the user does not exist."""
    rows = await fastsql.fetch(
        conn,
        _USER_ENTRY,
        {"scope_id": scope_id, "user_id": user_id, "board_id": board_id, "run_start": run_start},
    )
    if not rows:
        return None
    row = rows[0]
    found = row["neg_value"] is not None
    entry = Entry(row["neg_value"], row["reached_at"], row["group_key"]) if found else None
    return UserEntry(row["pk"], entry)


def _in(slot: Slot) -> list[ColumnElement[bool]]:
    return [
        entries.c.leaderboard_id == slot.board_id,
        entries.c.run_start == slot.run_start,
        entries.c.group_key == slot.group,
    ]


async def rank_of(
    conn: AsyncConnection,
    slot: Slot,
    value: int,
    reached_at: dt.datetime,
    user_id: str,
    limit: int,
) -> int | None:
    """The rank the entry (value, reached_at, user) has among the slot's entries, or None
    when it is not among the first `limit` or its value is not positive."""
    if value <= 0:
        return None
    ahead = (
        select(literal(1))
        .where(
            *_in(slot),
            tuple_(entries.c.neg_value, entries.c.reached_at, entries.c.user_key)
            < tuple_(
                literal(-value),
                literal(reached_at, entries.c.reached_at.type),
                literal(user_id.encode()),
            ),
        )
        .limit(limit)
        .subquery()
    )
    count: int = (await conn.execute(select(func.count()).select_from(ahead))).scalar_one()
    return count + 1 if count < limit else None


# Compiled once: a page is the most frequent read of a board (top N, around me, threshold).
_PAGE = FastStatement(
    lambda _dialect: (
        select(entries.c.user_pk, entries.c.neg_value, users.c.id, users.c.name)
        .join(users, users.c.pk == entries.c.user_pk)
        .where(
            entries.c.leaderboard_id == bindparam("board_id"),
            entries.c.run_start == bindparam("run_start"),
            entries.c.group_key == bindparam("group_key"),
            entries.c.neg_value < 0,
        )
        .order_by(entries.c.neg_value, entries.c.reached_at, entries.c.user_key)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )
)


async def page(conn: AsyncConnection, slot: Slot, offset: int, limit: int) -> list[Ranked]:
    """Entries at positions offset+1 … offset+limit with a positive value."""
    if limit <= 0:
        return []
    rows = await fastsql.fetch(
        conn,
        _PAGE,
        {
            "board_id": slot.board_id,
            "run_start": slot.run_start,
            "group_key": slot.group,
            "offset": offset,
            "limit": limit,
        },
    )
    return [
        Ranked(row["user_pk"], row["id"], row["name"], offset + position + 1, -row["neg_value"])
        for position, row in enumerate(rows)
    ]


async def at_position(conn: AsyncConnection, slot: Slot, position: int) -> Ranked | None:
    """The entry ranked `position` (1-based) if it has a positive value."""
    found = await page(conn, slot, position - 1, 1)
    return found[0] if found else None


async def threshold(conn: AsyncConnection, slot: Slot, max_participants: int) -> int:
    """The value a newcomer must exceed: the last ranked value of a full ranking, else 0."""
    last = await at_position(conn, slot, max_participants)
    return 0 if last is None else last.value


async def count_upto(conn: AsyncConnection, slot: Slot, limit: int) -> int:
    """How many entries the slot has, counting no further than `limit`."""
    capped = select(literal(1)).where(*_in(slot)).limit(limit).subquery()
    found: int = (await conn.execute(select(func.count()).select_from(capped))).scalar_one()
    return found


async def names(conn: AsyncConnection, scope_id: int, user_ids: list[str]) -> dict[str, str | None]:
    if not user_ids:
        return {}
    rows = await fastsql.fetch(conn, _NAMES, {"scope_id": scope_id, "ids": user_ids})
    return {row["id"]: row["name"] for row in rows}


_NAMES = FastStatement(
    lambda dialect: select(users.c.id, users.c.name).where(
        users.c.scope_id == bindparam("scope_id"), id_among(dialect)
    )
)
