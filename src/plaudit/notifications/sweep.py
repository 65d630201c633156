"""The due sweeps of the `emails.*_due` webhooks.

Driven by `due` columns: finding the work is one range scan of an index whatever the
number of users, and nothing is scheduled per user. Each run takes the `CHUNK` most
overdue rows in one short transaction; the worker runs it again while more are due.
Every row handled gets a later `due` (or none), so a run always makes progress.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from plaudit.core.periods import zone
from plaudit.core.schemas import format_timestamp
from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.notifications import rules, service
from plaudit.notifications.tables import achievement_messages, notification_schedule
from plaudit.platform.config import ScopeConfig
from plaudit.streaks import service as streaks
from plaudit.users.rules import UserState
from plaudit.users.service import locked_states
from plaudit.webhooks.outbox import WebhookEvent, emit

SCHEDULE = "notifications.due"
ACHIEVEMENTS = "notifications.achievements"
CHUNK = 1000

_table = notification_schedule
_SAVE = (
    update(_table)
    .where(_table.c.user_pk == bindparam("b_pk"), _table.c.kind == bindparam("b_kind"))
    .values(sent=bindparam("b_sent"), due=bindparam("b_due"))
)

# When each sweep next has work: one index lookup each (the explicit IS NOT NULL lets
# SQLite use the partial index; PostgreSQL infers it).
NEXT_SCHEDULED = select(func.min(_table.c.due)).where(_table.c.due.is_not(None))
NEXT_ACHIEVEMENT = select(func.min(achievement_messages.c.due))


async def _schedule_next_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(NEXT_SCHEDULED)
    return due


async def _run_schedule(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    claimed = await conn.execute(
        select(_table.c.user_pk, _table.c.scope_id)
        .where(_table.c.due <= now)
        .order_by(_table.c.due)
        .limit(CHUNK)
    )
    by_scope: dict[int, set[int]] = defaultdict(set)
    for row in claimed:
        by_scope[row.scope_id].add(row.user_pk)
    done = 0
    for scope_id, pks in by_scope.items():
        config = await ctx.runtime.config.get(conn, scope_id)
        # Locking the users serializes with their events; rows are read again afterwards
        # so that an event committed meanwhile (a restarted sequence) is what counts.
        people = {u.pk: u for u in await locked_states(conn, scope_id, sorted(pks))}
        rows = list(
            await conn.execute(
                select(_table).where(_table.c.user_pk.in_(sorted(pks)), _table.c.due <= now)
            )
        )
        prefs = await service.notification_preferences(conn, sorted(pks))
        reminded = [
            people[r.user_pk]
            for r in rows
            if r.kind == rules.STREAK_REMINDER and r.user_pk in people
        ]
        found = await streaks.read(conn, config, reminded, now) if reminded else {}
        events: list[WebhookEvent] = []
        saves: list[dict[str, Any]] = []
        for row in rows:
            user = people.get(row.user_pk)
            sent, due, event = (row.sent, None, None)
            if user is not None:
                allowed = rules.eligible(user, prefs.get(row.user_pk), row.kind)
                if row.kind == rules.REACTIVATION:
                    sent, due, event = _reactivation(user, row, allowed, now)
                elif row.kind == rules.RECAP:
                    due, event = _recap(config, user, row, allowed, now)
                else:
                    due, event = await _reminder(ctx, config, user, found, allowed, now)
            if event is not None:
                events.append(event)
            saves.append({"b_pk": row.user_pk, "b_kind": row.kind, "b_sent": sent, "b_due": due})
        if saves:
            await conn.execute(_SAVE, saves)
        await emit(conn, scope_id, events, now, interest=config.webhooks)
        done += len(rows)
    return done


def _reactivation(
    user: UserState, row: Any, allowed: bool, now: dt.datetime
) -> tuple[int, dt.datetime | None, WebhookEvent | None]:
    """Message `sent + 1`; the sequence moves on even for a user who gets no webhook."""
    tz = rules.user_zone(user.tz)
    sent = row.sent + 1
    event = (
        WebhookEvent(
            "emails.reactivation_due",
            {
                "timestamp": format_timestamp(now),
                "user": service.user_payload(user),
                "reactivation": {
                    "messageNumber": sent,
                    "daysSinceLastActive": rules.REACTIVATION_DAYS[row.sent],
                },
            },
        )
        if allowed
        else None
    )
    return sent, rules.reactivation_due(row.last_active, sent, tz), event


def _recap(
    config: ScopeConfig, user: UserState, row: Any, allowed: bool, now: dt.datetime
) -> tuple[dt.datetime | None, WebhookEvent | None]:
    """The recap of the period just ended (a pending recap always covers a period with an
    event); the next one is due only if the new period has an event already."""
    tz = rules.user_zone(user.tz)
    unit, week = service.recap_unit(config), config.week_starts_on
    start, end = rules.recap_period(row.due, unit, week, tz)
    event = (
        WebhookEvent(
            "emails.recap_due",
            {
                "timestamp": format_timestamp(now),
                "user": service.user_payload(user),
                "recap": {"periodStart": start.isoformat(), "periodEnd": end.isoformat()},
            },
        )
        if allowed
        else None
    )
    active_now = row.last_active >= rules.period_started(now, unit, week, tz)
    return (rules.recap_due(row.last_active, unit, week, tz) if active_now else None), event


async def _reminder(
    ctx: SweepContext,
    config: ScopeConfig,
    user: UserState,
    found: dict[int, Any],
    allowed: bool,
    now: dt.datetime,
) -> tuple[dt.datetime | None, WebhookEvent | None]:
    """A reminder for an active streak not extended yet in this period; the next one is
    looked at only while the streak is active (an event that starts one reschedules)."""
    assert user.pk is not None
    streak = found.get(user.pk)
    if streak is None:  # streaks are off
        return None, None
    state, settings = streak
    event = None
    if allowed and service.reminder_wanted(state, settings, now):
        body = await service.streak_response(ctx.conn, user, state, settings, now)
        event = WebhookEvent(
            "emails.streak_reminder_due",
            {
                "timestamp": format_timestamp(now),
                "user": service.user_payload(user),
                "streak": body,
            },
        )
    if state.length == 0 or not settings.enabled:
        return None, event  # nothing to remind of until an event brings a streak back
    return rules.reminder_due(now, state.frequency, zone(state.tz)), event


async def _achievements_next_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(NEXT_ACHIEVEMENT)
    return due


async def _run_achievements(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    ids = select(achievement_messages.c.completion_id).where(achievement_messages.c.due <= now)
    # Deleting is the claim: a message is taken by exactly one sweep run.
    claimed = list(
        await conn.execute(
            delete(achievement_messages)
            .where(
                achievement_messages.c.completion_id.in_(
                    ids.order_by(achievement_messages.c.due).limit(CHUNK).scalar_subquery()
                )
            )
            .returning(*achievement_messages.c)
        )
    )
    by_scope: dict[int, list[Any]] = defaultdict(list)
    for row in claimed:
        by_scope[row.scope_id].append(row)
    for scope_id, rows in by_scope.items():
        config = await ctx.runtime.config.get(conn, scope_id)
        pks = sorted({r.user_pk for r in rows})
        people = {u.pk: u for u in await locked_states(conn, scope_id, pks)}
        prefs = await service.notification_preferences(conn, pks)
        events: list[WebhookEvent] = []
        for row in sorted(rows, key=lambda r: (r.due, r.completion_id)):
            user = people.get(row.user_pk)
            achievement = config.achievements_by_id.get(row.achievement_id)
            if (
                user is None
                or achievement is None  # deleted since
                or not rules.eligible(user, prefs.get(row.user_pk), rules.ACHIEVEMENT)
            ):
                continue
            events.append(
                service.achievement_event(config, user, achievement, row.achieved_at, now)
            )
        await emit(conn, scope_id, events, now, interest=config.webhooks)
    return len(claimed)


schedule = register_sweep(
    Sweep(name=SCHEDULE, next_due=_schedule_next_due, run=_run_schedule, catch_up=True)
)
achievements = register_sweep(
    Sweep(name=ACHIEVEMENTS, next_due=_achievements_next_due, run=_run_achievements, catch_up=True)
)
