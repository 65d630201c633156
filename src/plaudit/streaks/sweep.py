"""The end-of-period sweep: at each user's local midnight, close what ended (pause, day
off, freeze or loss) and grant auto-earned freezes.

Driven by `user_streaks.next_due`: finding the work is one range scan of a partial index,
whatever the number of users, and nothing is scheduled per user. Each run takes the
`CHUNK` most overdue users in one short transaction; the worker runs it again while more
are due. Events catch up lazily on their own, so a late sweep changes nothing but the
time at which webhooks go out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select, update

from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.streaks import rules, store
from plaudit.streaks.service import current, effective_settings, lengths_changed, webhook_events
from plaudit.streaks.tables import user_streaks
from plaudit.users.rules import UserState
from plaudit.users.service import locked_states
from plaudit.webhooks.outbox import WebhookEvent, emit

NAME = "streaks.period_ends"
CHUNK = 1000


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(
        select(func.min(user_streaks.c.next_due)).where(user_streaks.c.next_due.is_not(None))
    )
    return due


async def _run(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    due = await conn.execute(
        select(user_streaks.c.user_pk, user_streaks.c.scope_id)
        .where(user_streaks.c.next_due <= now)
        .order_by(user_streaks.c.next_due)
        .limit(CHUNK)
    )
    by_scope: dict[int, list[int]] = defaultdict(list)
    for row in due:
        by_scope[row.scope_id].append(row.user_pk)
    done = 0
    for scope_id, pks in by_scope.items():
        config = await ctx.runtime.config.get(conn, scope_id)
        people = await locked_states(conn, scope_id, pks)  # serializes with their events
        loaded = await store.load(conn, pks)
        changes: list[store.Change] = []
        off: list[int] = []
        events: list[WebhookEvent] = []
        lengths: list[tuple[UserState, int]] = []
        for user in people:
            assert user.pk is not None
            stored = loaded[user.pk]
            settings = effective_settings(config, stored.preferences)
            if settings is None or stored.state is None:
                off.append(user.pk)
                continue
            step = current(stored, settings, config, user, now)
            next_due = rules.next_due(step.state, settings, now)
            changes.append(store.Change(user.pk, step.state, stored.longest, next_due))
            if step.state.length != stored.state.length:
                lengths.append((user, step.state.length))
            if settings.enabled and step.effects:
                events += webhook_events(
                    user, step.state, settings, step.effects, now, config.webhooks
                )
        if off:
            # Streaks are off: nothing is due until an event or a read brings them back.
            await conn.execute(
                update(user_streaks)
                .where(user_streaks.c.user_pk.in_(off))
                .values(next_due=None, updated=now)
            )
        await store.save_many(conn, scope_id, changes, now)
        await emit(conn, scope_id, events, now, interest=config.webhooks)
        await lengths_changed(conn, config, lengths, now)
        done += len(people)
    return done


period_ends = register_sweep(Sweep(name=NAME, next_due=_next_due, run=_run, catch_up=True))
