"""Sweeps of the events feature."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from plaudit.events.tables import events
from plaudit.jobs.registry import SweepContext
from plaudit.jobs.sweeps import periodic

CHUNK = 10_000


async def _forget_idempotency_keys(ctx: SweepContext) -> int:
    """With a retention window set, keys older than it may be used again."""
    days = ctx.runtime.settings.idempotency_retention_days
    if days is None:
        return 0
    cutoff = ctx.now - dt.timedelta(days=days)
    expired = (
        select(events.c.id)
        .where(events.c.idempotency_key.is_not(None), events.c.created < cutoff)
        .limit(CHUNK)
    )
    result = await ctx.conn.execute(
        update(events).where(events.c.id.in_(expired)).values(idempotency_key=None)
    )
    return int(result.rowcount or 0)


forget_idempotency_keys = periodic(
    "events.idempotency_retention", dt.timedelta(hours=1), _forget_idempotency_keys
)
