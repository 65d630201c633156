"""Application API reads: systems, boosts, levels, summaries, a user's balance and awards."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import json_text
from plaudit.core.errors import NotFound, Unprocessable
from plaudit.core.periods import add_periods, local_date, period_starts, start_of_local_day
from plaudit.core.schemas import format_timestamp
from plaudit.metrics import rules as metric_rules
from plaudit.metrics.service import _UNITS, MAX_SUMMARY_DAYS, SUMMARY_FIRST_DAY, SUMMARY_LAST_DAY
from plaudit.platform.config import ScopeConfig
from plaudit.points import rules, views
from plaudit.points.config import System, trigger_from_row
from plaudit.points.tables import points_awards, points_balances, points_triggers
from plaudit.users.rules import UserState
from plaudit.users.tables import users


def system_by_key(config: ScopeConfig, key: str) -> System:
    found = config.points.by_key.get(key)
    if found is None:
        raise NotFound(f"Points system '{key}' not found")
    return found


def system_view(config: ScopeConfig, system: System) -> dict[str, Any]:
    base = views.system_base(system)
    del base["key"]  # PointsSystemResponse has no key
    return {**base, "triggers": [views.trigger(config, t) for t in system.triggers]}


def global_boosts(
    system: System, now: dt.datetime, *, include_finished: bool
) -> list[dict[str, Any]]:
    listed = []
    for boost in system.boosts:
        if boost.user_pk is not None:
            continue
        status = rules.global_status(boost, now)
        if status == "finished" and not include_finished:
            continue
        listed.append(views.boost(boost, status))
    return listed


def user_boosts(
    config: ScopeConfig, system: System, user: UserState, now: dt.datetime
) -> list[dict[str, Any]]:
    """Boosts active for `user` right now (global, cohort and their own)."""
    day = local_date(now, config.user_zone(user.tz))
    return [
        views.boost(b, "active")
        for b in system.boosts
        if rules.boost_applies(b, user.pk, user.attributes, day)
    ]


async def balance(conn: AsyncConnection, user_pk: int, system_id: uuid.UUID) -> int:
    found = await conn.scalar(
        select(points_balances.c.total).where(
            points_balances.c.user_pk == user_pk, points_balances.c.system_id == system_id
        )
    )
    return int(found or 0)


async def user_points(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: System,
    user: UserState,
    limit: int,
    now: dt.datetime,
) -> dict[str, Any]:
    assert user.pk is not None
    total = await balance(conn, user.pk, system.id)
    rows = list(
        await conn.execute(
            select(points_awards, points_triggers)
            .select_from(
                points_awards.join(
                    points_triggers, points_triggers.c.id == points_awards.c.trigger_id
                )
            )
            .where(points_awards.c.user_pk == user.pk, points_awards.c.system_id == system.id)
            .order_by(points_awards.c.created.desc(), points_awards.c.id.desc())
            .limit(limit)
        )
    )
    tz = config.user_zone(user.tz)
    awards = []
    for row in rows:
        mapping = row._mapping
        trigger = trigger_from_row(_TriggerRow(mapping), config.attributes_by_id)
        boosts = [views.boost_from_snapshot(doc) for doc in mapping[points_awards.c.boosts]]
        awards.append(
            views.award(
                config,
                mapping[points_awards.c.id],
                mapping[points_awards.c.awarded],
                format_timestamp(mapping[points_awards.c.created]),
                mapping[points_awards.c.total],
                trigger,
                [views.boost(b, rules.local_status(b, now, tz)) for b in boosts],
            )
        )
    found = rules.level_for(system.levels, total)
    return {
        **views.system_base(system),
        "total": total,
        "level": views.level(found) if found else None,
        "awards": awards,
    }


class _TriggerRow:
    """A joined row's trigger columns by name (the award row shares some names)."""

    def __init__(self, mapping: Any) -> None:
        for column in points_triggers.c:
            setattr(self, column.name, mapping[column])


async def level_summary(
    conn: AsyncConnection, scope_id: int, system: System
) -> list[dict[str, Any]]:
    """Users per level, counted in the database (users without a balance are at 0)."""
    if not system.levels:
        raise Unprocessable(f"Points system '{system.key}' has no levels")
    balance = func.coalesce(points_balances.c.total, 0)
    level = case(
        *[(balance >= lv.points, index) for index, lv in reversed(list(enumerate(system.levels)))],
        else_=-1,
    )
    rows = await conn.execute(
        select(level, func.count())
        .select_from(_with_balances(system))
        .where(users.c.scope_id == scope_id)
        .group_by(level)
    )
    counts = {int(index): int(n) for index, n in rows}
    return [
        {"level": views.level(lv), "users": counts.get(index, 0)}
        for index, lv in enumerate(system.levels)
    ]


def _with_balances(system: System) -> Any:
    return users.outerjoin(
        points_balances,
        (points_balances.c.user_pk == users.c.pk) & (points_balances.c.system_id == system.id),
    )


def _attribute_conditions(conn: AsyncConnection, wanted: dict[str, str] | None) -> list[Any]:
    return [
        json_text(users.c.attributes, k, conn.dialect.name) == v for k, v in (wanted or {}).items()
    ]


async def summary(
    conn: AsyncConnection, config: ScopeConfig, system: System, wanted: dict[str, str] | None
) -> list[dict[str, int]]:
    """The histogram over every user of the scope matching `wanted` (0 for no balance),
    counted in the database: the highest balance, then users per range."""
    balance = func.coalesce(points_balances.c.total, 0)
    where = (users.c.scope_id == config.scope_id, *_attribute_conditions(conn, wanted))
    top = await conn.scalar(
        select(func.max(balance)).select_from(_with_balances(system)).where(*where)
    )
    width = rules.histogram_width(int(top or 0))
    bucket = case((balance <= 0, 0), else_=(balance - 1) // width + 1)
    rows = await conn.execute(
        select(bucket, func.count())
        .select_from(_with_balances(system))
        .where(*where)
        .group_by(bucket)
    )
    counts: dict[int, int] = {}
    for index, n in rows:
        capped = min(10, int(index))
        counts[capped] = counts.get(capped, 0) + int(n)
    ranges = rules.histogram_ranges(width, counts)
    return [{"from": r.start, "to": r.end, "users": r.users} for r in ranges]


async def event_summary(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: System,
    user: UserState,
    aggregation: str,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, Any]]:
    for name, day in (("startDate", start), ("endDate", end)):
        if not SUMMARY_FIRST_DAY <= day <= SUMMARY_LAST_DAY:
            raise Unprocessable(f"{name} {day.isoformat()} is outside the supported range")
    if start > end:
        raise Unprocessable("startDate must not be after endDate")
    if (end - start).days > MAX_SUMMARY_DAYS:
        raise Unprocessable(
            f"The range from startDate to endDate may not exceed {MAX_SUMMARY_DAYS} days"
        )
    assert user.pk is not None
    unit = _UNITS[aggregation]
    tz = config.user_zone(user.tz)
    starts = period_starts(start, end, unit, config.week_starts_on)
    range_start = start_of_local_day(starts[0], tz)
    range_end = start_of_local_day(add_periods(starts[-1], unit, 1), tz)
    of_user = (points_awards.c.user_pk == user.pk, points_awards.c.system_id == system.id)
    before = await conn.scalar(
        select(func.coalesce(func.sum(points_awards.c.awarded), 0)).where(
            *of_user, points_awards.c.created < range_start
        )
    )
    rows = (
        await conn.execute(
            select(points_awards.c.created, points_awards.c.awarded).where(
                *of_user,
                points_awards.c.created >= range_start,
                points_awards.c.created < range_end,
            )
        )
    ).all()
    buckets = metric_rules.summarize(
        starts, unit, ((local_date(r.created, tz), r.awarded) for r in rows), int(before or 0)
    )
    return [{"date": b.date.isoformat(), "total": b.total, "change": b.change} for b in buckets]
