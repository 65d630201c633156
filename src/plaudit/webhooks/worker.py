"""The delivery loop: runs in every worker (`plaudit worker`, the embedded one of `serve`)
and, with the test clock, at each step of `PUT /admin/v1/test-clock`.

The loop claims due deliveries in batches, into one queue per destination (scheme, host
and port), and sends them concurrently, each in a task of its own: at most
`webhook_max_in_flight` at once and `webhook_connections_per_host` per destination, over
one HTTP client whose keep-alive connections stay open between attempts. A receiver that
hangs holds only its own slots, until the timeout, and never the others. A finished
attempt frees its slot at once and is handed to a recorder task, which records every
attempt that has finished meanwhile in one transaction. No transaction is ever open while
a receiver is called.

How much is claimed ahead for a destination follows how fast it answers (about a second's
worth, within bounds), and a claim that waited too long for a slot is given back unsent
rather than sent on a lease that might run out: a slow or hanging destination gets just
its own connections' worth, a fast one a large batch per claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import Counter, deque
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy import select

from plaudit.core import observability
from plaudit.core.clock import test_clock_table, utcnow
from plaudit.jobs.registry import Pump, register_pump
from plaudit.jobs.sweeps import Progress, periodic
from plaudit.webhooks import delivery, fanout

if TYPE_CHECKING:
    from plaudit.jobs.registry import SweepContext
    from plaudit.runtime import Runtime

log = structlog.get_logger("plaudit.webhooks")

QUEUE_SECONDS = 1.0  # claim about this long's worth of attempts ahead, per destination
MAX_DEPTH_FACTOR = 64  # ... but at most this many per connection of a destination
QUEUE_FACTOR = 8  # claimed and not yet recorded, at most: this x webhook_max_in_flight
CLAIM_BATCH = 256  # deliveries claimed in one transaction, at most
MIN_CYCLE_SECONDS = 0.02  # wake-ups (every committed event wakes the worker) are coalesced
PACE_WEIGHT = 0.2  # of the newest attempt in a destination's running mean duration


async def _test_clock_now(runtime: Runtime) -> dt.datetime | None:
    """The test clock's reading; None until a request or the job worker has set it (this
    loop never writes it from a read transaction, which SQLite could refuse)."""
    async with runtime.db.transaction(write=False) as conn:
        value: dt.datetime | None = await conn.scalar(
            select(test_clock_table.c.now).where(test_clock_table.c.id == 1)
        )
        return value


def _after(runtime: Runtime, started: dt.datetime, took: float) -> dt.datetime:
    """The time an attempt ended: a frozen test clock does not move while it runs."""
    if runtime.clock.is_test_clock:
        return started
    return started + dt.timedelta(seconds=took)


async def attempt(
    runtime: Runtime, client: httpx.AsyncClient, claimed: delivery.Claimed, now: dt.datetime
) -> delivery.Finished:
    """Send one claimed delivery, signed at `now`; the attempt, still to be recorded."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await delivery.send(client, claimed, runtime.settings, now)
    observability.JOBS.labels(kind="webhook", outcome="done" if outcome.ok else "failed").inc()
    return delivery.Finished(claimed, outcome, now, _after(runtime, now, loop.time() - started))


async def send_now(runtime: Runtime, delivery_id: uuid.UUID, now: dt.datetime) -> str:
    """One attempt of one delivery at once (the test event, a manual redelivery)."""
    claimed = await delivery.claim_one(runtime, delivery_id, now)
    async with delivery.new_client(runtime.settings) as client:
        done = await attempt(runtime, client, claimed, now)
    [status] = await delivery.record_many(runtime, [done])
    return status


async def run_due(runtime: Runtime, now: dt.datetime) -> int:
    """Everything due at `now`, to the end: fan-out, closed throttle windows, deliveries.

    Used with the test clock (in time order, deterministic); each batch is sent
    concurrently within the per-destination limit, then recorded in one transaction.
    """
    work = await fanout.fan_out(runtime, now) + await fanout.flush_throttles(runtime, now)
    settings = runtime.settings
    per_host = settings.webhook_connections_per_host
    async with delivery.new_client(settings) as client:
        while claimed := await delivery.claim(
            runtime, now, lambda _destination: per_host, settings.webhook_max_in_flight
        ):
            finished = await asyncio.gather(*(attempt(runtime, client, c, now) for c in claimed))
            await delivery.record_many(runtime, finished)
            work += len(claimed)
    return work


class Dispatcher:
    """The continuous delivery loop of one worker process: claims into per-destination
    queues, sends from them within the limits, and records finished attempts in batches."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self._per_host = settings.webhook_connections_per_host
        self._max_in_flight = settings.webhook_max_in_flight
        self._capacity = settings.webhook_max_in_flight * QUEUE_FACTOR
        # A queued claim is sent only while its lease leaves room for a whole attempt
        # and its recording (the lease is 2 x timeout + 2 s).
        self._max_wait = settings.webhook_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._queues: dict[str, deque[tuple[delivery.Claimed, float]]] = {}
        self._busy: Counter[str] = Counter()  # attempts under way, per destination
        self._subscriptions: dict[uuid.UUID, str] = {}  # destination of each one seen
        self._pace: dict[str, float] = {}  # mean seconds per attempt, per destination
        self._in_flight: dict[asyncio.Task[delivery.Finished], delivery.Claimed] = {}
        self._finished: list[delivery.Finished] = []
        self._stale: list[delivery.Claimed] = []
        self._to_record = asyncio.Event()
        self._unrecorded = 0  # claimed, and neither recorded nor given back yet
        self._starved = False  # the last cycle could not claim: too much unrecorded

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="plaudit-webhooks")
        self._recorder = asyncio.create_task(self._record_loop(), name="plaudit-webhook-log")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        self._to_record.set()
        tasks = [t for t in (self._task, self._recorder) if t is not None]
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.gather(*tasks)), timeout=grace)
        except TimeoutError:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- how much to claim --------------------------------------------------------------

    def _depth(self, destination: str) -> int:
        """Claims to hold for a destination: about QUEUE_SECONDS of its attempts."""
        pace = self._pace.get(destination)
        factor = 4.0 if pace is None else QUEUE_SECONDS / max(pace, 1e-3)
        return self._per_host * max(1, min(MAX_DEPTH_FACTOR, int(factor)))

    def _held(self, destination: str) -> int:
        queue = self._queues.get(destination)
        return self._busy[destination] + (len(queue) if queue else 0)

    def _room(self, destination: str) -> int:
        return self._depth(destination) - self._held(destination)

    def _half_full(self) -> set[uuid.UUID]:
        """Subscriptions whose destination holds at least half its depth: not claimed
        for now, so that claims come in large batches and leave room for the others."""
        return {
            sub
            for sub, destination in self._subscriptions.items()
            if 2 * self._held(destination) >= self._depth(destination)
        }

    # --- the loop -------------------------------------------------------------------------

    async def _cycle(self) -> bool:
        """One round of fan-out and claims; whether to go again at once (more is due)
        rather than wait for a wake-up: an attempt that leaves its destination's queue
        half empty, a recording that frees room, a committed event, or the poll."""
        runtime = self.runtime
        if runtime.clock.is_test_clock:
            # Frozen time: run what is due in step with the test clock's own runs.
            async with runtime.job_lock:
                frozen = await _test_clock_now(runtime)
                return frozen is not None and await run_due(runtime, frozen) > 0
        now = utcnow()
        due = await delivery.due_now(runtime, now)  # a read: idle workers take no write lock
        more = created = False
        if due.outbox:
            fanned = await fanout.fan_out(runtime, now)
            created = fanned > 0
            more = fanned >= fanout.FAN_OUT_BATCH
        if due.windows:
            flushed = await fanout.flush_throttles(runtime, now)
            created = created or flushed > 0
            more = more or flushed >= fanout.FAN_OUT_BATCH
        limit = min(CLAIM_BATCH, self._capacity - self._unrecorded)
        self._starved = limit <= 0
        if (due.deliveries or created) and limit > 0:
            claimed = await delivery.claim(
                runtime, now, self._room, limit, skip_subscriptions=self._half_full()
            )
            taken = asyncio.get_running_loop().time()
            for item in claimed:
                destination = item.destination
                self._subscriptions[item.subscription_id] = destination
                self._queues.setdefault(destination, deque()).append((item, taken))
            self._unrecorded += len(claimed)
            more = more or len(claimed) >= limit
            self._dispatch()
        return more

    def _dispatch(self) -> None:
        """Start queued attempts wherever a connection is free."""
        if self._stopping or self._client is None:
            return
        loop = asyncio.get_running_loop()
        for destination, queue in self._queues.items():
            while (
                queue
                and self._busy[destination] < self._per_host
                and len(self._in_flight) < self._max_in_flight
            ):
                item, taken = queue.popleft()
                if loop.time() - taken > self._max_wait:
                    self._stale.append(item)  # its lease may run out mid-attempt
                    self._to_record.set()
                    continue
                self._busy[destination] += 1
                task = loop.create_task(attempt(self.runtime, self._client, item, utcnow()))
                self._in_flight[task] = item
                task.add_done_callback(self._attempted)
        for destination in [d for d, q in self._queues.items() if not q and not self._busy[d]]:
            del self._queues[destination]

    def _attempted(self, task: asyncio.Task[delivery.Finished]) -> None:
        claimed = self._in_flight.pop(task)
        destination = claimed.destination
        self._busy[destination] -= 1
        if self._busy[destination] <= 0:
            del self._busy[destination]
        if task.cancelled() or task.exception() is not None:
            # Unrecorded, the claim's lease runs out and the delivery goes again.
            self._unrecorded -= 1
            if not task.cancelled():
                log.error(
                    "webhook_attempt_failed",
                    delivery_id=str(claimed.delivery_id),
                    error=repr(task.exception()),
                )
        else:
            done = task.result()
            took = (done.outcome.duration_ms or 0) / 1000
            pace = self._pace.get(destination)
            self._pace[destination] = took if pace is None else pace + PACE_WEIGHT * (took - pace)
            self._finished.append(done)
            self._to_record.set()
        self._dispatch()
        held, depth = self._held(destination), self._depth(destination)
        if 2 * held < depth <= 2 * (held + 1):
            self._wake.set()  # just went below half its depth: time to claim more

    async def _run(self) -> None:
        poll = self.runtime.settings.worker_poll_seconds
        loop = asyncio.get_running_loop()
        async with delivery.new_client(self.runtime.settings) as client:
            self._client = client
            try:
                while not self._stopping:
                    began = loop.time()
                    self._wake.clear()  # a wake-up during the cycle makes the next one
                    try:
                        more = await self._cycle()
                    except Exception:
                        log.exception("webhook_cycle_failed")
                        more = False
                    if not more:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), timeout=poll)
                    rest = MIN_CYCLE_SECONDS - (loop.time() - began)
                    if rest > 0 and not self._stopping:
                        await asyncio.sleep(rest)
            finally:
                # Claims not started go back; attempts under way finish (bounded by their
                # timeout) and are recorded by the recorder's last round.
                for queue in self._queues.values():
                    self._stale.extend(item for item, _taken in queue)
                self._queues.clear()
                if self._in_flight:
                    await asyncio.gather(*self._in_flight, return_exceptions=True)
                self._client = None
                self._to_record.set()

    async def _record_loop(self) -> None:
        """Record every attempt that has finished meanwhile, in one transaction."""
        while True:
            await self._to_record.wait()
            self._to_record.clear()
            finished_loop = self._stopping and (self._task is None or self._task.done())
            while self._finished or self._stale:
                batch = self._finished[: delivery.RECORD_BATCH]
                stale = self._stale[: delivery.RECORD_BATCH]
                try:
                    await delivery.record_many(self.runtime, batch)
                    await delivery.release(self.runtime, stale)
                except Exception:
                    log.exception("webhook_recording_failed", attempts=len(batch))
                    if self._stopping:
                        break  # unrecorded, the leases run out and the deliveries go again
                    await asyncio.sleep(1.0)
                    continue
                del self._finished[: len(batch)]
                del self._stale[: len(stale)]
                self._unrecorded -= len(batch) + len(stale)
                if self._starved:
                    self._wake.set()  # the last cycle had no room to claim
            if finished_loop:
                return
            if self._stopping:
                # The loop is still finishing its attempts: come back when it is done.
                assert self._task is not None
                await asyncio.wait({self._task})
                self._to_record.set()


async def _next_due(runtime: Runtime, now: dt.datetime) -> dt.datetime | None:
    return await delivery.next_due(runtime, now)


webhooks_pump = register_pump(
    Pump(name="webhooks", next_due=_next_due, run_due=run_due, background=Dispatcher)
)


async def _purge(ctx: SweepContext) -> Progress:
    keep = dt.timedelta(days=ctx.runtime.settings.webhook_log_retention_days)
    return (await delivery.purge(ctx.conn, ctx.now, keep)).progress


purge_logs = periodic("webhooks.purge", dt.timedelta(hours=1), _purge)
