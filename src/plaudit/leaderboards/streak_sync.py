"""Streak boards follow streaks that end without an event.

An event reports its user's new streak length to the leaderboards directly; a streak that
is lost (or frozen, or reset by an admin) changes only in `user_streaks`, by the streak
sweep. This sweep copies such lengths into the entries of active streak boards every
`INTERVAL`: one indexed join per board, touching only entries whose length differs.
Housekeeping, not catch-up: under the test clock it runs once at each destination, after
the streak sweep has caught up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import on_commit
from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.jobs.tables import sweeps
from plaudit.leaderboards import redis_ranks
from plaudit.leaderboards.ranking import Slot
from plaudit.leaderboards.tables import leaderboard_entries as entries
from plaudit.leaderboards.tables import leaderboards
from plaudit.metrics.rules import SCALE
from plaudit.streaks.tables import user_streaks
from plaudit.users.tables import users

NAME = "leaderboards.streak_lengths"
INTERVAL = dt.timedelta(minutes=10)


def _active_streak_boards() -> Select[Any]:
    return select(leaderboards.c.id).where(
        leaderboards.c.rank_by == "streak", leaderboards.c.status == "active"
    )


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    if await ctx.conn.scalar(_active_streak_boards().limit(1)) is None:
        return None
    last = await ctx.conn.scalar(select(sweeps.c.last_run_at).where(sweeps.c.name == NAME))
    return ctx.now if last is None else last + INTERVAL


async def _run(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    done = 0
    for board_id in list(await conn.scalars(_active_streak_boards())):
        done += await sync_board(conn, board_id, now)
    return done


async def sync_board(conn: AsyncConnection, board_id: uuid.UUID, now: dt.datetime) -> int:
    rows = list(
        await conn.execute(
            select(
                entries.c.run_start,
                entries.c.user_pk,
                entries.c.group_key,
                entries.c.version,
                users.c.id,
                user_streaks.c.length,
            )
            .join(user_streaks, user_streaks.c.user_pk == entries.c.user_pk)
            .join(users, users.c.pk == entries.c.user_pk)
            .where(
                entries.c.leaderboard_id == board_id,
                entries.c.neg_value != -(user_streaks.c.length * SCALE),
            )
        )
    )
    for row in rows:
        value, version = row.length * SCALE, row.version + 1
        await conn.execute(
            entries.update()
            .where(
                entries.c.leaderboard_id == board_id,
                entries.c.run_start == row.run_start,
                entries.c.user_pk == row.user_pk,
            )
            .values(neg_value=-value, reached_at=now, version=version)
        )
        slot = Slot(board_id, row.run_start, row.group_key)

        async def cache(
            slot: Slot = slot, user_id: str = row.id, version: int = version, value: int = value
        ) -> None:
            await redis_ranks.apply(slot, user_id, version, value, now)

        if redis_ranks.client() is not None:
            on_commit(conn, cache)
    return len(rows)


streak_lengths = register_sweep(Sweep(name=NAME, next_due=_next_due, run=_run, catch_up=False))
