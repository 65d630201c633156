"""The purge of finished jobs (PLAUDIT_JOB_RETENTION_DAYS, 7 by default): jobs that finished
longer ago go, in short chunks; queued and running jobs stay however old.

The jobs table is shared by every environment, so these tests look at their own rows only
(marked by their kind). The clock only moves forward and is shared by this module: each
clock test has a year of its own.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.sweeps import CHUNK, purge_finished_jobs
from plaudit.jobs.tables import jobs, sweeps
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment

RETENTION = dt.timedelta(days=7)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def job(
    kind: str, status: str, created: dt.datetime, finished: dt.datetime | None
) -> dict[str, object]:
    # No handler is registered for these kinds: a queued one is never due (run_at 2400),
    # so the worker never runs it.
    return {
        "kind": kind,
        "payload": {},
        "status": status,
        "run_at": created if finished else at("2400-01-01T00:00:00Z"),
        "attempts": 1 if finished else 0,
        "max_attempts": 1,
        "created": created,
        "finished": finished,
    }


async def statuses(conn: AsyncConnection, kind: str) -> Counter[str]:
    rows = await conn.scalars(select(jobs.c.status).where(jobs.c.kind == kind))
    return Counter(rows)


async def next_purge(stack: Stack) -> dt.datetime | None:
    async with stack.runtime.db.transaction(write=False) as conn:
        found: dt.datetime | None = await conn.scalar(
            select(sweeps.c.next_run_at).where(sweeps.c.name == "jobs.purge")
        )
        return found


async def test_finished_jobs_go_after_the_retention_and_waiting_ones_stay(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    kind = "tests.purge.retention"
    start = at("2094-01-01T00:00:00Z")
    await move_clock(clock_env, "2094-01-01T00:00:00Z")
    async with clock_stack.runtime.db.transaction() as conn:
        await conn.execute(
            insert(jobs),
            [
                job(kind, "done", start, start),
                job(kind, "failed", start, start),
                job(kind, "done", start, start + dt.timedelta(hours=1)),
                job(kind, "queued", start, None),
                job(kind, "running", start, None),  # its worker may still finish it
            ],
        )
    try:
        # Exactly the retention later (the purge runs every hour): everything is kept.
        await move_clock(clock_env, "2094-01-08T00:00:00Z")
        async with clock_stack.runtime.db.transaction(write=False) as conn:
            assert await statuses(conn, kind) == {"done": 2, "failed": 1, "queued": 1, "running": 1}
        await move_clock(clock_env, "2094-01-08T01:00:00Z")
        async with clock_stack.runtime.db.transaction(write=False) as conn:
            # The job that finished an hour later is exactly at the retention now.
            assert await statuses(conn, kind) == {"done": 1, "queued": 1, "running": 1}
        assert await next_purge(clock_stack) == at("2094-01-08T02:00:00Z")
    finally:
        async with clock_stack.runtime.db.transaction() as conn:
            await conn.execute(delete(jobs).where(jobs.c.kind == kind))


async def test_a_large_purge_drains_in_chunks_without_waiting_for_the_next_hour(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    kind = "tests.purge.backlog"
    start = at("2095-01-01T00:00:00Z")
    count = 2 * CHUNK + CHUNK // 2
    await move_clock(clock_env, "2095-01-01T00:00:00Z")
    async with clock_stack.runtime.db.transaction() as conn:
        await conn.execute(
            insert(jobs), [job(kind, ("done", "failed")[n % 2], start, start) for n in range(count)]
        )

    async def left() -> int:
        async with clock_stack.runtime.db.transaction(write=False) as conn:
            found = await conn.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.kind == kind)
            )
            return int(found or 0)

    # Each run deletes one chunk in a transaction of its own and, the chunk being full, is
    # due again at once: the clock stays put, yet the backlog drains. (The embedded worker
    # may run some of the chunks between the moves, at the same clock time: how many each
    # run touched is the chunk test's to check.)
    await move_clock(clock_env, "2095-01-09T00:00:00Z")
    for _ in range(10):
        if not await left():
            break
        await move_clock(clock_env, "2095-01-09T00:00:00Z")
    assert await left() == 0
    assert await next_purge(clock_stack) == at("2095-01-09T01:00:00Z")  # last run not full


class Rollback(Exception):
    """Ends a test transaction without committing it."""


async def test_purge_deletes_at_most_a_chunk_per_call(stack: Stack) -> None:
    """On the shared stack, in a transaction rolled back at the end, with jobs dated 1990:
    older than anything else in the database, so only they are due for the purge."""
    kind = "tests.purge.chunks"
    old = at("1990-01-01T00:00:00Z")
    cutoff = old + dt.timedelta(days=1)

    async def scenario() -> None:
        async with stack.runtime.db.transaction() as conn:
            finished = [job(kind, ("done", "failed")[n % 2], old, old) for n in range(5)]
            waiting = [job(kind, "queued", old, None), job(kind, "running", old, None)]
            recent = job(kind, "done", old, cutoff)  # finished exactly at the cutoff
            await conn.execute(insert(jobs), [*finished, *waiting, recent])
            runs = [await purge_finished_jobs(conn, cutoff, chunk=2) for _ in range(4)]
            assert [(run.done, run.more) for run in runs] == [
                (2, True),
                (2, True),
                (1, False),
                (0, False),
            ]
            assert await statuses(conn, kind) == {"queued": 1, "running": 1, "done": 1}
            raise Rollback

    with pytest.raises(Rollback):
        await scenario()
