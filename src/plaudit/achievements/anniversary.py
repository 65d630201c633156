"""Anniversary achievements: complete at local midnight of signUpDate + N years.

The sweep asks, per active anniversary achievement, which pending user's anniversary
begins first (exactly, in that user's time zone), so the scheduler wakes only when there
is work; a signUpDate already far enough in the past completes at once, silently
(see completion.reevaluate).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion, rules
from plaudit.achievements.tables import achievement_completions, achievements
from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.platform.config import ScopeConfig
from plaudit.users.service import locked_states
from plaudit.users.tables import users

# A local date may already be tomorrow somewhere (UTC+14): candidates are taken that far.
_EARLIEST_OFFSET = dt.timedelta(hours=14)
_WINDOW = 500


def due_at(sign_up: dt.date, years: int, tz_name: str | None, config: ScopeConfig) -> dt.datetime:
    return rules.anniversary_due(sign_up, years, config.user_zone(tz_name))


def _pending(achievement_id: Any, scope_id: int) -> Any:
    done = exists().where(
        and_(
            achievement_completions.c.achievement_id == achievement_id,
            achievement_completions.c.user_pk == users.c.pk,
        )
    )
    return and_(users.c.scope_id == scope_id, users.c.sign_up_date.is_not(None), ~done)


async def _live(conn: AsyncConnection) -> list[Any]:
    return list(
        await conn.execute(
            select(
                achievements.c.id, achievements.c.scope_id, achievements.c.anniversary_years
            ).where(achievements.c.trigger == "anniversary", achievements.c.status == "active")
        )
    )


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    earliest: dt.datetime | None = None
    for row in await _live(ctx.conn):
        config = await ctx.runtime.config.get(ctx.conn, row.scope_id)
        first = await ctx.conn.scalar(
            select(users.c.sign_up_date)
            .where(_pending(row.id, row.scope_id))
            .order_by(users.c.sign_up_date)
            .limit(1)
        )
        if first is None:
            continue
        # Time zones shift the first instant by up to a day either way.
        near = await ctx.conn.execute(
            select(users.c.sign_up_date, users.c.tz)
            .where(
                _pending(row.id, row.scope_id), users.c.sign_up_date <= first + dt.timedelta(days=2)
            )
            .limit(_WINDOW)
        )
        for user in near:
            due = due_at(user.sign_up_date, row.anniversary_years, user.tz, config)
            earliest = due if earliest is None or due < earliest else earliest
    return earliest


async def _run(ctx: SweepContext) -> int:
    done = 0
    latest_local = (ctx.now + _EARLIEST_OFFSET).date()
    for row in await _live(ctx.conn):
        config = await ctx.runtime.config.get(ctx.conn, row.scope_id)
        achievement = config.achievements_by_id.get(row.id)
        if achievement is None:
            continue
        cutoff = rules.add_years(latest_local, -row.anniversary_years) + dt.timedelta(days=1)
        candidates = await ctx.conn.execute(
            select(users.c.pk)
            .where(_pending(row.id, row.scope_id), users.c.sign_up_date <= cutoff)
            .limit(5000)
        )
        pks = [r.pk for r in candidates]
        for user in await locked_states(ctx.conn, row.scope_id, pks):
            if completion.anniversary_reached(
                achievement, user, config, ctx.now
            ) and rules.user_matches(achievement, user.attributes):
                done += len(
                    await completion.complete(
                        ctx.conn, config, user, [achievement], ctx.now, backdated=False
                    )
                )
    return done


anniversaries = register_sweep(Sweep("achievements.anniversaries", _next_due, _run, catch_up=True))
