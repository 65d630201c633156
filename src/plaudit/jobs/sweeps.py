"""Periodic sweeps, the chunked deletes and updates of housekeeping, and the foundation's
housekeeping sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Delete, Update, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.jobs.tables import jobs, sweeps

# Rows one run of a housekeeping sweep deletes or updates of each kind: each run is one
# short transaction, and a full chunk has the sweep run again at once (see `periodic`), so
# any backlog drains however large it grew.
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Progress:
    """What one run of a chunked housekeeping sweep did."""

    done: int
    more: bool  # a chunk was full: run again at once instead of after the period

    @classmethod
    def of(cls, chunk: int, *counts: int) -> Progress:
        """A run that touched `counts` rows of each kind, at most `chunk` of each. A full
        chunk may have left rows behind; one short of it found them all."""
        return cls(sum(counts), more=any(count >= chunk for count in counts))


async def in_chunk(
    conn: AsyncConnection,
    statement: Update | Delete,
    where: ColumnElement[bool],
    *key: ColumnElement[Any],
    chunk: int,
) -> int:
    """Apply `statement` (an UPDATE or DELETE of one table) to at most `chunk` of the rows
    that match `where`, picked by their `key` columns; returns how many it touched.

    `where` must stop matching a row once the statement touched it, or the next chunk
    would pick the same rows again.
    """
    picked = select(*key).where(where).limit(chunk)
    target = key[0] if len(key) == 1 else tuple_(*key)
    result = await conn.execute(statement.where(target.in_(picked)))
    return int(result.rowcount or 0)


def periodic(
    name: str, every: dt.timedelta, work: Callable[[SweepContext], Awaitable[int | Progress]]
) -> Sweep:
    """A housekeeping sweep run every `every` (once at the destination of a test-clock move).

    Work that returns `Progress(more=True)` is due again at once: a backlog drains one
    short transaction after another (the worker loops while sweeps do work) instead of
    in one long transaction that would hold locks, or SQLite's write lock, meanwhile.
    """

    async def next_due(ctx: SweepContext) -> dt.datetime | None:
        due = await ctx.conn.scalar(select(sweeps.c.next_run_at).where(sweeps.c.name == name))
        return due or ctx.now

    async def run(ctx: SweepContext) -> int:
        result = await work(ctx)
        progress = result if isinstance(result, Progress) else Progress(result, more=False)
        next_run_at = ctx.now if progress.more else ctx.now + every
        await ctx.conn.execute(
            update(sweeps).where(sweeps.c.name == name).values(next_run_at=next_run_at)
        )
        return progress.done

    return register_sweep(Sweep(name=name, next_due=next_due, run=run, catch_up=False))


async def purge_finished_jobs(
    conn: AsyncConnection, older_than: dt.datetime, chunk: int = CHUNK
) -> Progress:
    """One chunk of the jobs that finished (done, or failed for good) before `older_than`.
    Queued and running jobs have no finish time: they stay, however old."""
    finished = jobs.c.status.in_(("done", "failed")) & (jobs.c.finished < older_than)
    return Progress.of(chunk, await in_chunk(conn, jobs.delete(), finished, jobs.c.id, chunk=chunk))


async def _purge_jobs(ctx: SweepContext) -> Progress:
    keep = dt.timedelta(days=ctx.runtime.settings.job_retention_days)
    return await purge_finished_jobs(ctx.conn, ctx.now - keep)


purge_jobs = periodic("jobs.purge", dt.timedelta(hours=1), _purge_jobs)
