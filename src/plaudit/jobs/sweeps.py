"""Periodic sweeps and the foundation's housekeeping sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update

from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.jobs.tables import sweeps
from plaudit.jobs.worker import purge_finished_jobs


@dataclass(frozen=True, slots=True)
class Progress:
    """What one run of a chunked housekeeping sweep did."""

    done: int
    more: bool  # a chunk was full: run again at once instead of after the period


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


async def _purge_jobs(ctx: SweepContext) -> int:
    keep = dt.timedelta(days=ctx.runtime.settings.job_retention_days)
    return await purge_finished_jobs(ctx.conn, ctx.now - keep)


purge_jobs = periodic("jobs.purge", dt.timedelta(hours=1), _purge_jobs)
