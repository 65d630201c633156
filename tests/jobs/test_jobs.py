"""Jobs and sweeps: due-time order through the test clock, retries, leases, SKIP LOCKED."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update

from plaudit.jobs import worker
from plaudit.jobs.registry import JobContext, Sweep, SweepContext, job_kind, register_sweep
from plaudit.jobs.tables import jobs
from plaudit.runtime import Runtime
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment


class Label(BaseModel):
    label: str


RAN: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
FAIL_ONCE: set[str] = set()


@job_kind("tests.record", Label, max_attempts=3)
async def record(ctx: JobContext, payload: Label) -> None:
    if payload.label in FAIL_ONCE:
        FAIL_ONCE.discard(payload.label)
        raise RuntimeError(f"{payload.label} failed on purpose")
    RAN[id(ctx.runtime)].append((payload.label, ctx.now))


# A catch-up sweep with work at times the tests choose (per runtime, so stacks don't mix).
SWEEP_DUE: dict[int, list[dt.datetime]] = defaultdict(list)
SWEPT: dict[int, list[dt.datetime]] = defaultdict(list)


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    due = SWEEP_DUE[id(ctx.runtime)]
    return min(due) if due else None


async def _sweep(ctx: SweepContext) -> int:
    due = SWEEP_DUE[id(ctx.runtime)]
    ready = [t for t in due if t <= ctx.now]
    for t in ready:
        due.remove(t)
    SWEPT[id(ctx.runtime)].append(ctx.now)
    return len(ready)


register_sweep(Sweep(name="tests.sweep", next_due=_next_due, run=_sweep, catch_up=True))


async def _enqueue(runtime: Runtime, label: str, run_at: dt.datetime) -> None:
    async with runtime.db.transaction() as conn:
        await record.enqueue(conn, Label(label=label), now=run_at, scope_id=None, run_at=run_at)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_moving_the_clock_runs_jobs_and_sweeps_in_time_order(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    runtime = clock_stack.runtime
    await move_clock(clock_env, "2091-01-01T00:00:00Z")
    RAN[id(runtime)].clear()
    await _enqueue(runtime, "third", _at("2091-01-03T00:00:00Z"))
    await _enqueue(runtime, "first", _at("2091-01-01T06:00:00Z"))
    SWEEP_DUE[id(runtime)].extend([_at("2091-01-02T00:00:00Z"), _at("2091-01-05T00:00:00Z")])
    await _enqueue(runtime, "later", _at("2091-02-01T00:00:00Z"))

    response = await move_clock(clock_env, "2091-01-04T00:00:00Z")
    assert response.json()["jobsRun"] >= 3
    assert RAN[id(runtime)] == [
        ("first", _at("2091-01-01T06:00:00Z")),
        ("third", _at("2091-01-03T00:00:00Z")),
    ]
    assert _at("2091-01-02T00:00:00Z") in SWEPT[id(runtime)]
    assert SWEEP_DUE[id(runtime)] == [_at("2091-01-05T00:00:00Z")]
    await move_clock(clock_env, "2091-03-01T00:00:00Z")
    assert RAN[id(runtime)][-1] == ("later", _at("2091-02-01T00:00:00Z"))
    assert SWEEP_DUE[id(runtime)] == []


async def test_a_failing_job_is_retried_with_backoff(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    runtime = clock_stack.runtime
    await move_clock(clock_env, "2092-01-01T00:00:00Z")
    FAIL_ONCE.add("flaky")
    await _enqueue(runtime, "flaky", _at("2092-01-01T00:00:00Z"))
    await move_clock(clock_env, "2092-01-01T00:00:01Z")
    async with runtime.db.transaction(write=False) as conn:
        row = (
            await conn.execute(select(jobs).where(jobs.c.payload["label"].as_string() == "flaky"))
        ).one()
    assert row.status == "queued"
    assert row.attempts == 1
    assert "failed on purpose" in row.last_error
    assert row.run_at == _at("2092-01-01T00:00:15Z")  # 15 s after the failed attempt
    await move_clock(clock_env, "2092-01-01T00:01:00Z")
    assert ("flaky", _at("2092-01-01T00:00:15Z")) in RAN[id(runtime)]


async def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    runtime = clock_stack.runtime
    start = _at("2093-01-01T00:00:00Z")
    await move_clock(clock_env, "2093-01-01T00:00:00Z")
    async with runtime.job_lock:
        await _enqueue(runtime, "orphan", start)
        claimed = await worker.claim_jobs(runtime, start)  # a worker claims it, then "crashes"
        assert len(claimed) == 1
        assert await worker.claim_jobs(runtime, start + dt.timedelta(minutes=1)) == []
    await move_clock(clock_env, "2093-01-01T00:06:00Z")
    assert ("orphan", _at("2093-01-01T00:06:00Z")) in RAN[id(runtime)]


@pytest.mark.postgres
async def test_concurrent_claimers_never_get_the_same_job(postgres_stack: Stack) -> None:
    runtime = postgres_stack.runtime
    when = _at("2000-01-01T00:00:00Z")
    async with runtime.job_lock:  # keep the embedded worker out of the way
        for i in range(60):
            await _enqueue(runtime, f"bulk-{i}", when)
        claims = await asyncio.gather(
            *(worker.claim_jobs(runtime, when, limit=7) for _ in range(12))
        )
        claimed = [job_id for claim in claims for job_id in claim]
        assert len(claimed) == len(set(claimed))
        async with runtime.db.transaction() as conn:  # hand them back for the worker to finish
            await conn.execute(update(jobs).where(jobs.c.id.in_(claimed)).values(status="done"))
