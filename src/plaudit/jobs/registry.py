"""Typed job kinds and sweeps that features register at import time.

A job is enqueued in the caller's transaction (transactional outbox): it exists exactly
when the change that asked for it committed. A sweep is periodic or data-driven work
("what became due since the last run?") that the scheduler runs in time order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.tables import jobs

if TYPE_CHECKING:
    from plaudit.runtime import Runtime

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class JobContext:
    runtime: Runtime
    # The job's transaction (its effects commit with its completion); None for kinds that
    # open transactions of their own (long, chunked work).
    conn: AsyncConnection | None
    now: dt.datetime
    scope_id: int | None

    @property
    def connection(self) -> AsyncConnection:
        assert self.conn is not None, "this job kind runs its own transactions"
        return self.conn


@dataclass(frozen=True, slots=True)
class JobKind(Generic[P]):
    name: str
    payload_model: type[P]
    handler: Callable[[JobContext, P], Awaitable[None]]
    max_attempts: int
    own_transactions: bool = False

    async def enqueue(
        self,
        conn: AsyncConnection,
        payload: P,
        *,
        now: dt.datetime,
        scope_id: int | None,
        run_at: dt.datetime | None = None,
    ) -> None:
        await enqueue_raw(
            conn,
            self.name,
            payload.model_dump(mode="json"),
            now=now,
            scope_id=scope_id,
            run_at=run_at,
            max_attempts=self.max_attempts,
        )

    async def run(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        await self.handler(ctx, self.payload_model.model_validate(payload))


async def enqueue_raw(
    conn: AsyncConnection,
    kind: str,
    payload: dict[str, Any],
    *,
    now: dt.datetime,
    scope_id: int | None,
    run_at: dt.datetime | None,
    max_attempts: int,
) -> None:
    await conn.execute(
        insert(jobs).values(
            kind=kind,
            scope_id=scope_id,
            payload=payload,
            status="queued",
            run_at=run_at or now,
            attempts=0,
            max_attempts=max_attempts,
            created=now,
        )
    )


JOB_KINDS: dict[str, JobKind[Any]] = {}


def job_kind(
    name: str, payload_model: type[P], *, max_attempts: int = 5, own_transactions: bool = False
) -> Callable[[Callable[[JobContext, P], Awaitable[None]]], JobKind[P]]:
    """Register a job kind. `own_transactions` kinds get no transaction (ctx.conn is None):
    they must be idempotent, since a crash can leave part of their work committed."""

    def register(handler: Callable[[JobContext, P], Awaitable[None]]) -> JobKind[P]:
        if name in JOB_KINDS:
            raise RuntimeError(f"job kind {name!r} registered twice")
        kind = JobKind(name, payload_model, handler, max_attempts, own_transactions)
        JOB_KINDS[name] = kind
        return kind

    return register


@dataclass(frozen=True, slots=True)
class SweepContext:
    runtime: Runtime
    conn: AsyncConnection
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Sweep:
    """`next_due` answers when the sweep next has work (None: nothing pending).

    A `catch_up` sweep is run at each due time while the test clock moves forward (period
    ends, run starts); other sweeps (housekeeping) run once at the clock's destination.
    """

    name: str
    next_due: Callable[[SweepContext], Awaitable[dt.datetime | None]]
    run: Callable[[SweepContext], Awaitable[int]]
    catch_up: bool


SWEEPS: dict[str, Sweep] = {}


def register_sweep(sweep: Sweep) -> Sweep:
    if sweep.name in SWEEPS:
        raise RuntimeError(f"sweep {sweep.name!r} registered twice")
    SWEEPS[sweep.name] = sweep
    return sweep


class Background(Protocol):
    def start(self) -> None: ...

    def wake(self) -> None: ...

    async def stop(self, grace: float = 30.0) -> None: ...


@dataclass(frozen=True, slots=True)
class Pump:
    """Work that calls the network and so must never run inside a transaction (webhook
    deliveries). Each worker runs its `background` loop; the test clock calls `run_due` at
    every step, after jobs, and asks `next_due` when it next has work."""

    name: str
    next_due: Callable[[Runtime, dt.datetime], Awaitable[dt.datetime | None]]
    run_due: Callable[[Runtime, dt.datetime], Awaitable[int]]
    background: Callable[[Runtime], Background]


PUMPS: dict[str, Pump] = {}


def register_pump(pump: Pump) -> Pump:
    if pump.name in PUMPS:
        raise RuntimeError(f"pump {pump.name!r} registered twice")
    PUMPS[pump.name] = pump
    return pump
