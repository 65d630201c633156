"""Backdating: when an achievement goes live (or a live one changes), every existing user
who already qualifies completes it, silently (no webhook, no notification, no points).

Users are walked in key order, 1,000 at a time, each chunk in its own short transaction
with one set-based query for who qualifies and one multi-row insert, so a large user base
neither holds locks for long nor blocks event traffic. Completions are inserts that ignore
existing pairs, so a retried job (or a racing event) never completes anything twice.
Composites that depend on the achievement are backdated after it, by their own jobs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion
from plaudit.achievements.rules import AchievementConfig
from plaudit.achievements.tables import achievement_completions
from plaudit.core.db import json_text
from plaudit.events.tables import events
from plaudit.jobs.registry import JobContext, job_kind
from plaudit.metrics.tables import metric_totals
from plaudit.platform.config import ScopeConfig
from plaudit.users.service import locked_states
from plaudit.users.tables import users

CHUNK = 1000

# Set by the streaks feature: the users (by key, within the range) whose current streak is
# at least the given length.
StreakEligible = Callable[[AsyncConnection, int, int, int, int], Awaitable[list[int]]]
streak_eligible: StreakEligible | None = None


class BackdatePayload(BaseModel):
    achievement_id: uuid.UUID


def _user_filters(achievement: AchievementConfig, dialect: str) -> list[Any]:
    return [
        json_text(users.c.attributes, key, dialect) == value
        for key, value in achievement.user_filters
    ]


async def _eligible(
    conn: AsyncConnection,
    config: ScopeConfig,
    a: AchievementConfig,
    after: int,
    upto: int,
    now: dt.datetime,
) -> list[int]:
    """Keys of the users in (after, upto] who qualify for `a` now."""
    dialect = conn.dialect.name
    in_range = [users.c.scope_id == config.scope_id, users.c.pk > after, users.c.pk <= upto]
    filters = _user_filters(a, dialect)
    if a.trigger == "metric" and not a.event_filters:
        query = (
            select(users.c.pk)
            .join(metric_totals, metric_totals.c.user_pk == users.c.pk)
            .where(*in_range, *filters, metric_totals.c.metric_id == a.metric_id)
            .where(metric_totals.c.total >= a.metric_value)
        )
    elif a.trigger == "metric":
        matching = [
            json_text(events.c.attributes, key, dialect) == value for key, value in a.event_filters
        ]
        query = (
            select(users.c.pk)
            .join(events, events.c.user_pk == users.c.pk)
            .where(*in_range, *filters, events.c.metric_id == a.metric_id, *matching)
            .group_by(users.c.pk)
            .having(func.sum(events.c.value) >= a.metric_value)
        )
    elif a.trigger == "achievement":
        query = (
            select(users.c.pk)
            .join(achievement_completions, achievement_completions.c.user_pk == users.c.pk)
            .where(
                *in_range, *filters, achievement_completions.c.achievement_id.in_(a.achievement_ids)
            )
            .group_by(users.c.pk)
            .having(
                func.count(distinct(achievement_completions.c.achievement_id))
                == len(set(a.achievement_ids))
            )
        )
    elif a.trigger == "anniversary":
        rows = await conn.execute(
            select(users.c.pk).where(*in_range, *filters, users.c.sign_up_date.is_not(None))
        )
        states = await locked_states(conn, config.scope_id, [r.pk for r in rows])
        return [
            s.pk
            for s in states
            if s.pk is not None and completion.anniversary_reached(a, s, config, now)
        ]
    elif a.trigger == "streak" and streak_eligible is not None and a.streak_length is not None:
        return await streak_eligible(conn, config.scope_id, a.streak_length, after, upto)
    else:
        return []  # api achievements complete only when called
    return [row[0] for row in await conn.execute(query)]


async def backdate(ctx: JobContext, achievement_id: uuid.UUID) -> int:
    """Complete `achievement_id` for everyone who qualifies; returns how many completed."""
    assert ctx.scope_id is not None
    runtime, scope_id = ctx.runtime, ctx.scope_id
    async with runtime.db.transaction(write=False) as conn:
        config = await runtime.config.get(conn, scope_id)
    achievement = config.achievements_by_id.get(achievement_id)
    if achievement is None or not achievement.completable:
        return 0
    completed, after = 0, 0
    while True:
        chunk_started = time.perf_counter()
        async with runtime.db.transaction() as conn:
            upto = await conn.scalar(
                select(func.max(users.c.pk)).where(
                    users.c.pk.in_(
                        select(users.c.pk)
                        .where(users.c.scope_id == scope_id, users.c.pk > after)
                        .order_by(users.c.pk)
                        .limit(CHUNK)
                    )
                )
            )
            if upto is None:
                break
            eligible = await _eligible(conn, config, achievement, after, upto, ctx.now)
            new = await completion.insert_completions(
                conn, scope_id, [(achievement_id, pk) for pk in eligible], ctx.now, backdated=True
            )
            completed += len(new)
        after = upto
        # Rest as long as the chunk took: backdating then takes at most half of the
        # machine (server and database), and event traffic keeps its latency.
        await asyncio.sleep(time.perf_counter() - chunk_started)
    dependents = [d.id for d in config.composites if achievement_id in d.achievement_ids]
    if dependents:
        async with runtime.db.transaction() as conn:
            await queue_backdating(conn, scope_id, dependents, ctx.now)
    return completed


@job_kind("achievements.backdate", BackdatePayload, max_attempts=5, own_transactions=True)
async def backdate_job(ctx: JobContext, payload: BackdatePayload) -> None:
    await backdate(ctx, payload.achievement_id)


async def queue_backdating(
    conn: AsyncConnection, scope_id: int, achievement_ids: list[uuid.UUID], now: dt.datetime
) -> None:
    for achievement_id in achievement_ids:
        await backdate_job.enqueue(
            conn, BackdatePayload(achievement_id=achievement_id), now=now, scope_id=scope_id
        )
