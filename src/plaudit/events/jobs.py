"""Sweeps of the events feature."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.events.tables import events
from plaudit.jobs.registry import SweepContext
from plaudit.jobs.sweeps import CHUNK, Progress, in_chunk, periodic


async def forget_idempotency_keys(
    conn: AsyncConnection, older_than: dt.datetime, chunk: int = CHUNK
) -> Progress:
    """One chunk of the keys of events recorded before `older_than`: the events stay, and
    their keys may be used again."""
    expired = events.c.idempotency_key.is_not(None) & (events.c.created < older_than)
    forget = update(events).values(idempotency_key=None)
    return Progress.of(chunk, await in_chunk(conn, forget, expired, events.c.id, chunk=chunk))


async def _forget_idempotency_keys(ctx: SweepContext) -> Progress:
    days = ctx.runtime.settings.idempotency_retention_days
    if days is None:  # keys are remembered forever
        return Progress(0, more=False)
    return await forget_idempotency_keys(ctx.conn, ctx.now - dt.timedelta(days=days))


idempotency_retention = periodic(
    "events.idempotency_retention", dt.timedelta(hours=1), _forget_idempotency_keys
)
