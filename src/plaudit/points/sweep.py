"""Sweeps of the points feature, each driven by an indexed due time:

- time triggers: `points_timers.next_due` per (user, trigger) — regenerate or decay;
- boost announcements: `points_boosts.announce_at` — `points.boost_started` and
  `points.boost_finished` at the times the webhooks page gives.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.points import rules
from plaudit.points.config import boost_from_row
from plaudit.points.ledger import Firing, record_elsewhere
from plaudit.points.tables import points_boosts, points_systems, points_timers
from plaudit.users.service import locked_states
from plaudit.users.tables import users
from plaudit.webhooks.outbox import WebhookEvent, emit

CHUNK = 1000


async def _timers_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(select(func.min(points_timers.c.next_due)))
    return due


async def _run_timers(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    due = list(
        await conn.execute(
            select(points_timers)
            .where(points_timers.c.next_due <= now)
            .order_by(points_timers.c.next_due)
            .limit(CHUNK)
        )
    )
    by_scope: dict[int, list[Any]] = defaultdict(list)
    for row in due:
        by_scope[row.scope_id].append(row)
    for scope_id, rows in by_scope.items():
        config = await ctx.runtime.config.get(conn, scope_id)
        people = {
            u.pk: u for u in await locked_states(conn, scope_id, sorted({r.user_pk for r in rows}))
        }
        firings: dict[int, list[Firing]] = defaultdict(list)
        for row in rows:
            trigger = config.points.triggers_by_id.get(row.trigger_id)
            user = people.get(row.user_pk)
            where = (points_timers.c.user_pk == row.user_pk) & (
                points_timers.c.trigger_id == row.trigger_id
            )
            if trigger is None or trigger.type != "time" or user is None:
                await conn.execute(delete(points_timers).where(where))  # no longer active
                continue
            tz = config.user_zone(user.tz)
            count, next_due = 0, row.next_due
            while next_due <= now:  # a late sweep catches up every interval it missed
                count += 1
                next_due = rules.next_due(
                    trigger.time_unit or "days", trigger.time_interval or 1, next_due, tz
                )
            if rules.matches(trigger.user_filters, user.attributes):
                firings[row.user_pk].append(Firing(trigger, count))
            await conn.execute(update(points_timers).where(where).values(next_due=next_due))
        await record_elsewhere(
            conn, config, [(people[pk], items) for pk, items in firings.items()], now
        )
    return len(due)


time_triggers = register_sweep(
    Sweep(name="points.time_triggers", next_due=_timers_due, run=_run_timers, catch_up=True)
)


async def _announce_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(
        select(func.min(points_boosts.c.announce_at)).where(
            points_boosts.c.announce_at.is_not(None)
        )
    )
    return due


def boost_payload(row: Any, user_id: str | None, status: str) -> dict[str, Any]:
    from plaudit.core.schemas import format_number

    return {
        "id": str(row.id),
        "name": row.name,
        "status": status,
        "userId": user_id,
        "pointsSystemId": str(row.system_id),
        "pointsSystemKey": row.system_key,
        "pointsSystemName": row.system_name,
        "start": row.start.isoformat(),
        "end": row.end.isoformat() if row.end else None,
        "multiplier": format_number(row.multiplier),
        "rounding": row.rounding,
    }


async def _run_announcements(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    rows = list(
        await conn.execute(
            select(
                points_boosts,
                points_systems.c.key.label("system_key"),
                points_systems.c.name.label("system_name"),
                users.c.id.label("user_id"),
                users.c.tz.label("user_tz"),
            )
            .select_from(
                points_boosts.join(
                    points_systems, points_systems.c.id == points_boosts.c.system_id
                ).outerjoin(users, users.c.pk == points_boosts.c.user_pk)
            )
            .where(points_boosts.c.announce_at <= now)
            .order_by(points_boosts.c.announce_at)
            .limit(CHUNK)
        )
    )
    for row in rows:
        config = await ctx.runtime.config.get(conn, row.scope_id)
        kind = row.announce
        await emit(
            conn,
            row.scope_id,
            [
                WebhookEvent(
                    f"points.boost_{kind}",
                    {
                        "timestamp": row.announce_at.isoformat().replace("+00:00", "Z"),
                        "boost": boost_payload(
                            row, row.user_id, "active" if kind == "started" else "finished"
                        ),
                    },
                )
            ],
            now,
            interest=config.webhooks,
        )
        tz = config.user_zone(row.user_tz) if row.user_pk is not None else None
        at, following = rules.next_announcement(boost_from_row(row, {}), tz, kind)
        await _set_announcement(conn, row.id, at, following)
    return len(rows)


async def _set_announcement(
    conn: AsyncConnection, boost_id: Any, at: dt.datetime | None, kind: str | None
) -> None:
    await conn.execute(
        update(points_boosts)
        .where(points_boosts.c.id == boost_id)
        .values(announce_at=at, announce=kind)
    )


boost_announcements = register_sweep(
    Sweep(
        name="points.boost_announcements",
        next_due=_announce_due,
        run=_run_announcements,
        catch_up=True,
    )
)
