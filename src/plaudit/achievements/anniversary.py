"""Anniversary achievements: complete at local midnight of signUpDate + N years.

The sweep only handles anniversaries that fall due after both its own last run and the
achievement's last change; earlier ones belong to backdating (silent), which runs after
every activation or edit. So the sweep's completions are always "live" (announced), and
its next due time is the first such anniversary, computed exactly in each user's zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion, rules
from plaudit.achievements.rules import AchievementConfig
from plaudit.achievements.tables import achievement_completions, achievements
from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.jobs.tables import sweeps
from plaudit.platform.config import ScopeConfig
from plaudit.users.service import locked_states
from plaudit.users.tables import users

NAME = "achievements.anniversaries"
# Local dates run up to a day ahead of (UTC+14) or behind (UTC-12) the UTC date.
_SLACK = dt.timedelta(days=2)
_BATCH = 5000


async def _live(conn: AsyncConnection) -> list[Any]:
    return list(
        await conn.execute(
            select(achievements.c.id, achievements.c.scope_id).where(
                achievements.c.trigger == "anniversary", achievements.c.status == "active"
            )
        )
    )


async def _watermark(conn: AsyncConnection, achievement: AchievementConfig) -> dt.datetime:
    """Anniversaries due at or before this instant are not the sweep's to announce."""
    last_run: dt.datetime | None = await conn.scalar(
        select(sweeps.c.last_run_at).where(sweeps.c.name == NAME)
    )
    return max(achievement.updated, last_run) if last_run else achievement.updated


async def _candidates(
    conn: AsyncConnection,
    config: ScopeConfig,
    a: AchievementConfig,
    after: dt.datetime,
    upto: dt.datetime | None,
) -> list[Any]:
    """Pending users whose anniversary may fall in (after, upto] (a superset, by date)."""
    years = a.anniversary_years or 0
    pending = and_(
        users.c.scope_id == config.scope_id,
        users.c.sign_up_date.is_not(None),
        ~exists().where(
            and_(
                achievement_completions.c.achievement_id == a.id,
                achievement_completions.c.user_pk == users.c.pk,
            )
        ),
        users.c.sign_up_date >= rules.add_years((after - _SLACK).date(), -years),
    )
    query = (
        select(users.c.pk, users.c.sign_up_date, users.c.tz)
        .where(pending)
        .order_by(users.c.sign_up_date)
    )
    if upto is not None:
        query = query.where(users.c.sign_up_date <= rules.add_years((upto + _SLACK).date(), -years))
    return list(await conn.execute(query.limit(_BATCH)))


def _due(a: AchievementConfig, row: Any, config: ScopeConfig) -> dt.datetime:
    return rules.anniversary_due(
        row.sign_up_date, a.anniversary_years or 0, config.user_zone(row.tz)
    )


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    earliest: dt.datetime | None = None
    for row in await _live(ctx.conn):
        config = await ctx.runtime.config.get(ctx.conn, row.scope_id)
        a = config.achievements_by_id.get(row.id)
        if a is None:
            continue
        after = await _watermark(ctx.conn, a)
        for user in await _candidates(ctx.conn, config, a, after, None):
            due = _due(a, user, config)
            if due > after and (earliest is None or due < earliest):
                earliest = due
            if (
                earliest is not None
                and user.sign_up_date
                > rules.add_years(earliest.date(), -(a.anniversary_years or 0)) + _SLACK
            ):
                break  # ordered by date: nobody later can be due sooner
    return earliest


async def _run(ctx: SweepContext) -> int:
    done = 0
    for row in await _live(ctx.conn):
        config = await ctx.runtime.config.get(ctx.conn, row.scope_id)
        a = config.achievements_by_id.get(row.id)
        if a is None:
            continue
        after = await _watermark(ctx.conn, a)
        due_now = [
            u.pk
            for u in await _candidates(ctx.conn, config, a, after, ctx.now)
            if after < _due(a, u, config) <= ctx.now
        ]
        for user in await locked_states(ctx.conn, row.scope_id, due_now):
            if rules.user_matches(a, user.attributes):
                done += len(
                    await completion.complete(ctx.conn, config, user, [a], ctx.now, backdated=False)
                )
    return done


anniversaries = register_sweep(Sweep(NAME, _next_due, _run, catch_up=True))
