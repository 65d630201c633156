"""The delivery loop: runs in every worker (`plaudit worker`, the embedded one of `serve`)
and, with the test clock, at each step of `PUT /admin/v1/test-clock`.

Deliveries go out concurrently, each in a task of its own, at most
`webhook_max_in_flight` at once and `webhook_connections_per_host` per destination: a
receiver that hangs holds only its own slots, until the timeout, and never the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy import select

from plaudit.core import observability
from plaudit.core.clock import test_clock_table, utcnow
from plaudit.jobs.registry import Pump, register_pump
from plaudit.jobs.sweeps import periodic
from plaudit.webhooks import delivery, fanout

if TYPE_CHECKING:
    from plaudit.jobs.registry import SweepContext
    from plaudit.runtime import Runtime

log = structlog.get_logger("plaudit.webhooks")


async def _test_clock_now(runtime: Runtime) -> dt.datetime | None:
    """The test clock's reading; None until a request or the job worker has set it (this
    loop never writes it from a read transaction, which SQLite could refuse)."""
    async with runtime.db.transaction(write=False) as conn:
        value: dt.datetime | None = await conn.scalar(
            select(test_clock_table.c.now).where(test_clock_table.c.id == 1)
        )
        return value


def _after(runtime: Runtime, claimed_at: dt.datetime, started: float) -> dt.datetime:
    """The time an attempt ended: a frozen test clock does not move while it runs."""
    if runtime.clock.is_test_clock:
        return claimed_at
    return claimed_at + dt.timedelta(seconds=asyncio.get_running_loop().time() - started)


async def attempt(
    runtime: Runtime, client: httpx.AsyncClient, claimed: delivery.Claimed, now: dt.datetime
) -> str:
    """Send one claimed delivery and record the attempt; returns its new status."""
    started = asyncio.get_running_loop().time()
    outcome = await delivery.send(client, claimed, runtime.settings, now)
    status = await delivery.record(runtime, claimed, outcome, now, _after(runtime, now, started))
    observability.JOBS.labels(kind="webhook", outcome="done" if outcome.ok else "failed").inc()
    return status


async def send_now(runtime: Runtime, delivery_id: uuid.UUID, now: dt.datetime) -> str:
    """One attempt of one delivery at once (the test event, a manual redelivery)."""
    claimed = await delivery.claim_one(runtime, delivery_id, now)
    async with delivery.new_client(runtime.settings) as client:
        return await attempt(runtime, client, claimed, now)


async def run_due(runtime: Runtime, now: dt.datetime) -> int:
    """Everything due at `now`, to the end: fan-out, closed throttle windows, deliveries.

    Used with the test clock (in time order, deterministic); each batch is sent
    concurrently within the per-destination limit.
    """
    work = await fanout.fan_out(runtime, now) + await fanout.flush_throttles(runtime, now)
    settings = runtime.settings
    per_host = settings.webhook_connections_per_host
    async with delivery.new_client(settings) as client:
        while claimed := await delivery.claim(
            runtime, now, lambda _destination: per_host, settings.webhook_max_in_flight
        ):
            await asyncio.gather(*(attempt(runtime, client, c, now) for c in claimed))
            work += len(claimed)
    return work


class Dispatcher:
    """The continuous delivery loop of one worker process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[asyncio.Task[str], delivery.Claimed] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="plaudit-webhooks")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _busy(self) -> Counter[str]:
        return Counter(c.destination for c in self._in_flight.values())

    async def _cycle(self, client: httpx.AsyncClient) -> int:
        runtime = self.runtime
        settings = runtime.settings
        if runtime.clock.is_test_clock:
            # Frozen time: run what is due in step with the test clock's own runs.
            async with runtime.job_lock:
                frozen = await _test_clock_now(runtime)
                return 0 if frozen is None else await run_due(runtime, frozen)
        now = utcnow()
        due = await delivery.next_due(runtime, now)  # a read: idle workers take no write lock
        if due is None or due > now:
            return 0
        work = await fanout.fan_out(runtime, now) + await fanout.flush_throttles(runtime, now)
        free = settings.webhook_max_in_flight - len(self._in_flight)
        if free <= 0:
            return work
        busy = self._busy()
        per_host = settings.webhook_connections_per_host
        full = {
            c.subscription_id for c in self._in_flight.values() if busy[c.destination] >= per_host
        }
        claimed = await delivery.claim(
            runtime, now, lambda d: per_host - busy[d], free, skip_subscriptions=full
        )
        for item in claimed:
            task = asyncio.create_task(attempt(runtime, client, item, now))
            self._in_flight[task] = item
            task.add_done_callback(self._finished)
        return work + len(claimed)

    def _finished(self, task: asyncio.Task[str]) -> None:
        claimed = self._in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None and claimed is not None:
            log.error(
                "webhook_attempt_failed",
                delivery_id=str(claimed.delivery_id),
                error=repr(task.exception()),
            )
        self._wake.set()

    async def _run(self) -> None:
        poll = self.runtime.settings.worker_poll_seconds
        async with delivery.new_client(self.runtime.settings) as client:
            while not self._stopping:
                try:
                    work = await self._cycle(client)
                except Exception:
                    log.exception("webhook_cycle_failed")
                    work = 0
                if work == 0 and not self._stopping:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=poll)
            if self._in_flight:
                # Let attempts under way finish and be recorded (bounded by their timeout).
                await asyncio.gather(*self._in_flight, return_exceptions=True)


async def _next_due(runtime: Runtime, now: dt.datetime) -> dt.datetime | None:
    return await delivery.next_due(runtime, now)


webhooks_pump = register_pump(
    Pump(name="webhooks", next_due=_next_due, run_due=run_due, background=Dispatcher)
)


async def _purge(ctx: SweepContext) -> int:
    keep = dt.timedelta(days=ctx.runtime.settings.webhook_log_retention_days)
    return await delivery.purge(ctx.conn, ctx.now, keep)


purge_logs = periodic("webhooks.purge", dt.timedelta(hours=1), _purge)
