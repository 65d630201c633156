"""Claiming and running jobs and sweeps; the worker loop and the test-clock advance.

A job is claimed in one short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any
number of workers share the queue) and run in a second one that also marks it done: its
effects and its completion commit together. A crash in between leaves the claim to expire
and the job to run again; a failure retries with backoff up to `max_attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import traceback
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import observability
from plaudit.core.db import dialect_insert
from plaudit.core.errors import Unprocessable
from plaudit.jobs.registry import (
    JOB_KINDS,
    PUMPS,
    SWEEPS,
    Background,
    JobContext,
    Sweep,
    SweepContext,
)
from plaudit.jobs.tables import jobs, sweeps

if TYPE_CHECKING:
    from plaudit.runtime import Runtime

log = structlog.get_logger("plaudit.jobs")

LEASE = dt.timedelta(minutes=5)
SWEEP_LEASE = dt.timedelta(minutes=10)
CLAIM_BATCH = 20


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(15 * 2 ** max(attempts - 1, 0), 3600))


async def claim_jobs(runtime: Runtime, now: dt.datetime, limit: int = CLAIM_BATCH) -> list[int]:
    async with runtime.db.transaction() as conn:
        due = or_(
            and_(jobs.c.status == "queued", jobs.c.run_at <= now),
            and_(jobs.c.status == "running", jobs.c.locked_until < now),
        )
        candidates = select(jobs.c.id).where(due).order_by(jobs.c.run_at, jobs.c.id).limit(limit)
        if conn.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list((await conn.execute(candidates)).scalars())
        if ids:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(ids))
                .values(status="running", locked_until=now + LEASE, attempts=jobs.c.attempts + 1)
            )
        return ids


async def run_job(runtime: Runtime, job_id: int, now: dt.datetime) -> bool:
    """Run one claimed job; True when it succeeded."""
    async with runtime.db.transaction() as conn:
        row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).one()
    kind = JOB_KINDS.get(row.kind)
    try:
        if kind is None:
            raise RuntimeError(f"no handler for job kind {row.kind!r}")
        if kind.own_transactions:
            await kind.run(JobContext(runtime, None, now, row.scope_id), row.payload)
        async with runtime.db.transaction() as conn:
            if not kind.own_transactions:
                await kind.run(JobContext(runtime, conn, now, row.scope_id), row.payload)
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status="done", finished=now, locked_until=None, last_error=None)
            )
    except Exception as exc:
        final = row.attempts >= row.max_attempts
        log.warning(
            "job_failed",
            job_id=job_id,
            kind=row.kind,
            attempt=row.attempts,
            final=final,
            error=str(exc),
        )
        async with runtime.db.transaction() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="failed" if final else "queued",
                    run_at=now + _backoff(row.attempts),
                    locked_until=None,
                    finished=now if final else None,
                    last_error="".join(traceback.format_exception_only(exc)).strip()[:4000],
                )
            )
        observability.JOBS.labels(kind=row.kind, outcome="failed").inc()
        return False
    observability.JOBS.labels(kind=row.kind, outcome="done").inc()
    return True


async def run_due_jobs(runtime: Runtime, now: dt.datetime) -> int:
    ran = 0
    while ids := await claim_jobs(runtime, now):
        for job_id in ids:
            await run_job(runtime, job_id, now)
            ran += 1
    return ran


async def _claim_sweep(conn: AsyncConnection, name: str, now: dt.datetime) -> bool:
    await conn.execute(
        dialect_insert(conn, sweeps)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    claimed = await conn.execute(
        update(sweeps)
        .where(sweeps.c.name == name)
        .where(or_(sweeps.c.locked_until.is_(None), sweeps.c.locked_until < now))
        .values(locked_until=now + SWEEP_LEASE)
    )
    return claimed.rowcount == 1


async def run_sweep(runtime: Runtime, sweep: Sweep, now: dt.datetime) -> int:
    """Run `sweep` if it is due and no other worker holds it; returns the work it did."""
    async with runtime.db.transaction() as conn:
        due = await sweep.next_due(SweepContext(runtime, conn, now))
        if due is None or due > now or not await _claim_sweep(conn, sweep.name, now):
            return 0
    done = 0
    try:
        async with runtime.db.transaction() as conn:
            done = await sweep.run(SweepContext(runtime, conn, now))
            await conn.execute(
                update(sweeps)
                .where(sweeps.c.name == sweep.name)
                .values(locked_until=None, last_run_at=now, last_result=f"ok: {done}")
            )
    except Exception as exc:
        log.exception("sweep_failed", sweep=sweep.name)
        async with runtime.db.transaction() as conn:
            await conn.execute(
                update(sweeps)
                .where(sweeps.c.name == sweep.name)
                .values(locked_until=None, last_run_at=now, last_result=f"error: {exc}"[:4000])
            )
    return done


async def run_due_sweeps(runtime: Runtime, now: dt.datetime, *, catch_up_only: bool = False) -> int:
    done = 0
    for sweep in SWEEPS.values():
        if catch_up_only and not sweep.catch_up:
            continue
        done += await run_sweep(runtime, sweep, now)
    return done


async def run_due_pumps(runtime: Runtime, now: dt.datetime) -> int:
    done = 0
    for pump in PUMPS.values():
        done += await pump.run_due(runtime, now)
    return done


async def next_due_time(runtime: Runtime, now: dt.datetime) -> dt.datetime | None:
    """The earliest time at which a queued job, a catch-up sweep or a pump has work."""
    async with runtime.db.transaction(write=False) as conn:
        candidates = [
            await conn.scalar(select(func.min(jobs.c.run_at)).where(jobs.c.status == "queued"))
        ]
        ctx = SweepContext(runtime, conn, now)
        for sweep in SWEEPS.values():
            if sweep.catch_up:
                candidates.append(await sweep.next_due(ctx))
    for pump in PUMPS.values():
        candidates.append(await pump.next_due(runtime, now))
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


async def advance_test_clock(runtime: Runtime, target: dt.datetime) -> int:
    """Move the test clock to `target`, running everything that falls due on the way."""
    clock = runtime.test_clock()
    async with runtime.job_lock:
        async with runtime.db.transaction() as conn:
            current = await clock.now(conn)
        if target < current:
            raise Unprocessable(
                "The test clock only moves forward: 'now' is before the current time"
            )
        ran = 0
        stuck_at: dt.datetime | None = None
        while True:
            due = await next_due_time(runtime, current)
            if due is None or due > target:
                break
            step = max(due, current)
            if step == stuck_at:
                # Due work that does nothing at this time (held by another worker): move on.
                break
            async with runtime.db.transaction() as conn:
                await clock.advance(conn, step)
            current = step
            work = (
                await run_due_jobs(runtime, step)
                + await run_due_sweeps(runtime, step, catch_up_only=True)
                + await run_due_pumps(runtime, step)
            )
            ran += work
            stuck_at = step if work == 0 else None
        async with runtime.db.transaction() as conn:
            await clock.advance(conn, target)
        ran += await run_due_jobs(runtime, target) + await run_due_sweeps(runtime, target)
        return ran + await run_due_pumps(runtime, target)


class WorkerLoop:
    """Runs due jobs and sweeps until stopped (embedded in `serve`, or `plaudit worker`),
    and the pumps' loops (webhook deliveries) beside it.

    Stopping waits for the current iteration to finish: cancelling a task in the middle of
    a database transaction would leave its connection in an unknown state.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._pumps: list[Background] = []
        self._sweep_seconds = 0.0  # how long the last round of sweeps that found work took

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="plaudit-worker")
        self._pumps = [pump.background(self.runtime) for pump in PUMPS.values()]
        for pump in self._pumps:
            pump.start()

    def wake(self) -> None:
        self._wake.set()
        for pump in self._pumps:
            pump.wake()

    async def stop(self, grace: float = 30.0) -> None:
        for pump in self._pumps:
            await pump.stop(grace)
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except TimeoutError:
            log.warning("worker_stop_timeout", grace_seconds=grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> int:
        async with self.runtime.job_lock:
            ran = await run_due_jobs(self.runtime, await self._now())
            # Jobs can take a while: sweeps decide what is due on a fresh reading.
            started = time.perf_counter()
            swept = await run_due_sweeps(self.runtime, await self._now())
            self._sweep_seconds = time.perf_counter() - started if swept else 0.0
            return ran + swept

    async def _now(self) -> dt.datetime:
        async with self.runtime.db.transaction(write=False) as conn:
            return await self.runtime.clock.now(conn)

    async def run_forever(self) -> None:
        poll = self.runtime.settings.worker_poll_seconds
        while not self._stopping:
            try:
                work = await self.run_once()
            except Exception:
                log.exception("worker_iteration_failed")
                work = 0
            # Sweeps walk users in chunks and come straight back while more are due; resting
            # in proportion keeps their share of the CPU (and of the database) bounded.
            rest = self._sweep_seconds * self.runtime.settings.worker_sweep_rest if work else poll
            if rest > 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=rest)
