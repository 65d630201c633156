"""The scenarios (throughput, latency, batch) and the correctness check, as plain results.

Each scenario returns a JSON-ready dict; `bench.report` turns it into text. The events of
the throughput and latency scenarios (and of the warm-up) all go to one metric and are
tallied per user in a ledger, so that afterwards the server's totals can be compared with
what it acknowledged: a benchmark that loses or double-counts events is not a win.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench import api
from bench.load import (
    EventBodies,
    Ledger,
    Recorder,
    batch_loop,
    closed_loop,
    latency_summary,
    make_session,
    open_loop,
)
from bench.server import Target, process_tree_cpu_seconds

SCENARIOS = ("throughput", "latency", "batch")


@dataclass(slots=True)
class Plan:
    """What to run, as chosen on the command line."""

    scenarios: tuple[str, ...]
    duration_s: float
    warmup_s: float
    concurrency: int
    rate: float
    latency_connections: int
    users: int
    batch_size: int
    batch_concurrency: int
    batch_users: int
    drain_timeout_s: float
    seed: int
    metric_key: str
    batch_metric_key: str
    user_prefix: str


@dataclass(slots=True)
class Context:
    target: Target
    plan: Plan
    events: EventBodies
    ledger: Ledger = field(default_factory=Ledger)  # events of metric_key, per user

    @property
    def event_url(self) -> str:
        return f"{self.target.base_url}/v1/metrics/{self.plan.metric_key}/event"


class CpuMeter:
    """CPU used by the client and the server while a scenario runs, in % of one core.

    On this 2-core machine client and server share the CPU: 200 % in total means the
    machine was saturated, and a client near 100 % means the client, not the server, was
    the limit.
    """

    def __init__(self, server_pid: int | None) -> None:
        self._pid = server_pid
        self._wall = time.perf_counter()
        self._client = time.process_time()
        self._server = process_tree_cpu_seconds(server_pid) if server_pid else None

    def read(self) -> dict[str, float | None]:
        wall = time.perf_counter() - self._wall
        client = (time.process_time() - self._client) / wall * 100
        server = None
        if self._pid and self._server is not None:
            now = process_tree_cpu_seconds(self._pid)
            if now is not None:
                server = (now - self._server) / wall * 100
        return {"client_cpu_pct": round(client, 1), "server_cpu_pct": _round(server)}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _outcomes(rec: Recorder) -> dict[str, Any]:
    return {
        "ok": rec.ok,
        "failed": sum(rec.failures.values()),
        "failures": dict(rec.failures),
        "failure_samples": rec.failure_samples,
        "latency": latency_summary(rec.latencies_ns),
    }


async def warm_up(ctx: Context) -> dict[str, Any]:
    """A short closed loop first, so connection set-up, caches and the JIT-less warm paths
    of the server (first queries, prepared statements) do not land in the first scenario.
    Its events count in the correctness check like any others."""
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.concurrency) as session:
        rec, elapsed = await closed_loop(
            session,
            ctx.event_url,
            ctx.events,
            concurrency=plan.concurrency,
            duration_s=plan.warmup_s,
            seed=plan.seed + 7,
            ledger=ctx.ledger,
        )
    return {"duration_s": elapsed, "ok": rec.ok, "failed": sum(rec.failures.values())}


async def throughput(ctx: Context) -> dict[str, Any]:
    """Closed loop: how many events per second the server acknowledges at C connections."""
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.concurrency) as session:
        cpu = CpuMeter(ctx.target.pid)
        rec, elapsed = await closed_loop(
            session,
            ctx.event_url,
            ctx.events,
            concurrency=plan.concurrency,
            duration_s=plan.duration_s,
            seed=plan.seed,
            ledger=ctx.ledger,
        )
        usage = cpu.read()
    return {
        "concurrency": plan.concurrency,
        "duration_s": elapsed,
        "events_per_s": rec.ok / elapsed,
        **_outcomes(rec),
        **usage,
    }


async def latency(ctx: Context) -> dict[str, Any]:
    """Open loop at a fixed rate: latency as users would see it at that load."""
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.latency_connections) as session:
        cpu = CpuMeter(ctx.target.pid)
        rec, elapsed, stats = await open_loop(
            session,
            ctx.event_url,
            ctx.events,
            rate=plan.rate,
            duration_s=plan.duration_s,
            seed=plan.seed + 1,
            ledger=ctx.ledger,
        )
        usage = cpu.read()
    return {
        "target_rate": plan.rate,
        "scheduled": stats.scheduled,
        "achieved_rate": rec.ok / elapsed,
        "duration_s": elapsed,
        "max_connections": plan.latency_connections,
        "send_lateness_p99_ms": stats.sent_late_p99_ms,
        "send_lateness_max_ms": stats.sent_late_max_ms,
        "unfinished": stats.unfinished,
        **_outcomes(rec),
        **usage,
    }


def _batches(plan: Plan, ids: list[str]) -> list[tuple[bytes, int]]:
    """A few distinct pre-encoded batches cycling through the batch users, value 1 each."""
    bodies: list[tuple[bytes, int]] = []
    cursor = 0
    for _ in range(max(1, min(8, plan.batch_concurrency * 2))):
        items = []
        for _ in range(plan.batch_size):
            items.append({"key": plan.batch_metric_key, "user": {"id": ids[cursor]}, "value": 1})
            cursor = (cursor + 1) % len(ids)
        bodies.append((api.batch_body(items), len(items)))
    return bodies


async def batch(ctx: Context) -> dict[str, Any]:
    """Batch endpoint: accepted events/s at the door, then the end-to-end processing rate.

    The batch events go to their own fresh metric with value 1 over a small set of users,
    so that "everything accepted has been counted" is just the sum of a few totals.
    """
    plan = ctx.plan
    base = ctx.target.base_url
    ids = ctx.events.user_ids[: plan.batch_users]
    bodies = _batches(plan, ids)
    async with make_session(ctx.target.admin_key, plan.batch_concurrency + 32) as session:
        cpu = CpuMeter(ctx.target.pid)
        started = time.perf_counter()
        rec, accepted, send_elapsed = await batch_loop(
            session,
            f"{base}/admin/v1/metrics/events",
            bodies,
            concurrency=plan.batch_concurrency,
            duration_s=plan.duration_s,
        )
        send_done = time.perf_counter()
        counted = 0.0
        polls = 0
        deadline = send_done + plan.drain_timeout_s
        drained = False
        while True:
            totals = await api.metric_totals(session, base, ids, plan.batch_metric_key)
            polls += 1
            counted = sum(totals.values())
            if counted >= accepted:
                drained = True
                break
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.25)
        done = time.perf_counter()
        usage = cpu.read()
    end_to_end = done - started
    return {
        "batch_size": plan.batch_size,
        "concurrency": plan.batch_concurrency,
        "users": len(ids),
        "duration_s": send_elapsed,
        "accepted_events": accepted,
        "accepted_events_per_s": accepted / send_elapsed,
        "requests_per_s": rec.ok / send_elapsed,
        "counted_events": counted,
        "drained": drained,
        "exact": counted == accepted,
        "drain_after_send_s": done - send_done,
        "end_to_end_s": end_to_end,
        "processed_events_per_s": (counted / end_to_end) if end_to_end else 0.0,
        "polls": polls,
        **_outcomes(rec),
        **usage,
    }


async def verify(ctx: Context) -> dict[str, Any]:
    """Compare each user's server total with the 2xx events the client saw for that user.

    Reads every user that was sent an event (not just a sample), 32 requests at a time.
    A request that failed on the client side (timeout, reset) may still have been counted
    by the server, so with client-side failures a surplus is explainable; without them,
    any difference is a server bug.
    """
    started = time.perf_counter()
    ids = sorted(ctx.ledger.sent, key=lambda u: (len(u), u))
    async with make_session(ctx.target.admin_key, 32) as session:
        totals = await api.metric_totals(session, ctx.target.base_url, ids, ctx.plan.metric_key)
    expected = sum(ctx.ledger.acked.values())
    actual = sum(totals.values())
    wrong = [
        {"user": u, "expected": ctx.ledger.acked.get(u, 0), "server": totals[u]}
        for u in ids
        if totals[u] != ctx.ledger.acked.get(u, 0)
    ]
    return {
        "metric": ctx.plan.metric_key,
        "users_checked": len(ids),
        "expected_total": expected,
        "server_total": actual,
        "ok": actual == expected and not wrong,
        "users_wrong": len(wrong),
        "examples": wrong[:10],
        "seconds": time.perf_counter() - started,
    }
