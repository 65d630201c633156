"""The scenarios (throughput, latency, batch) and the correctness check, as plain results.

Each scenario returns a JSON-ready dict; `bench.report` turns it into text. The events of
the throughput and latency scenarios (and of the warm-up) all go to one metric and are
tallied per user in a ledger, so that afterwards the server's totals can be compared with
what it acknowledged: a benchmark that loses or double-counts events is not a win.

The two achievements scenarios live in `bench.achievements`, the webhooks scenario in
`bench.webhooks`; they reuse the context, the CPU meter and the closed-loop measurement
defined here.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

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
from bench.server import (
    Target,
    cpu_delta,
    machine_busy_seconds,
    postgres_backends_cpu,
    process_tree_cpu_seconds,
)

# Every scenario in the order a run takes them; the achievements scenarios take minutes
# of setup (seeding totals, 100,000 users), so they run only when asked for by name, and
# so does the webhooks one (it subscribes a receiver in this process).
SCENARIOS = (
    "throughput",
    "latency",
    "batch",
    "achievements-overhead",
    "backdate",
    "webhooks",
    "points-overhead",
)
DEFAULT_SCENARIOS = ("throughput", "latency", "batch")


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
    backdate_users: int
    backdate_rate: float
    backdate_timeout_s: float
    overhead_metric_key: str
    backdate_metric_key: str
    backdate_load_metric_key: str
    backdate_user_prefix: str
    webhook_events: int
    webhook_metric_key: str
    webhook_user_prefix: str
    points_thresholds: tuple[int, ...] = (1, 1, 1, 1, 1)


def _quiet(_text: str) -> None:
    """Default progress sink."""


@dataclass(slots=True)
class Context:
    target: Target
    plan: Plan
    events: EventBodies
    ledger: Ledger = field(default_factory=Ledger)  # events of metric_key, per user
    note: Callable[[str], None] = _quiet  # progress messages (stderr)

    @property
    def event_url(self) -> str:
        return f"{self.target.base_url}/v1/metrics/{self.plan.metric_key}/event"


class CpuMeter:
    """CPU used while a scenario runs by the server, the client and everything else, in % of
    one core. PostgreSQL's backends for the run's database count as "database".

    On this 2-core machine client and server share the CPU: 200 % in total means the
    machine was saturated; a client near 100 % means the client, not the server, was the
    limit; a large "other" share means another program disturbed the measurement.
    """

    def __init__(self, target: Target) -> None:
        self._pid = target.pid
        self._pg = target.postgres_database
        self._wall = time.perf_counter()
        self._client = time.process_time()
        self._server = process_tree_cpu_seconds(self._pid) if self._pid else None
        self._database = postgres_backends_cpu(self._pg) if self._pg else None
        self._machine = machine_busy_seconds()

    def read(self) -> dict[str, float | None]:
        wall = time.perf_counter() - self._wall
        client = (time.process_time() - self._client) / wall * 100
        server = None
        if self._pid and self._server is not None:
            now = process_tree_cpu_seconds(self._pid)
            if now is not None:
                server = (now - self._server) / wall * 100
        database = None
        if self._pg and self._database is not None:
            database = cpu_delta(self._database, postgres_backends_cpu(self._pg)) / wall * 100
        other = None
        machine_now = machine_busy_seconds()
        if self._machine is not None and machine_now is not None and server is not None:
            busy = (machine_now - self._machine) / wall * 100
            other = max(0.0, busy - server - client - (database or 0.0))
        return {
            "client_cpu_pct": round(client, 1),
            "server_cpu_pct": _round(server),
            "database_cpu_pct": _round(database),
            "other_cpu_pct": _round(other),
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def outcomes(rec: Recorder) -> dict[str, Any]:
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


async def closed_phase(
    ctx: Context, url: str, ledger: Ledger, seed: int, duration_s: float
) -> dict[str, Any]:
    """One closed-loop measurement of `url` (the throughput method), as a result dict."""
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.concurrency) as session:
        cpu = CpuMeter(ctx.target)
        rec, elapsed = await closed_loop(
            session,
            url,
            ctx.events,
            concurrency=plan.concurrency,
            duration_s=duration_s,
            seed=seed,
            ledger=ledger,
        )
        usage = cpu.read()
    return {
        "concurrency": plan.concurrency,
        "duration_s": elapsed,
        "events_per_s": rec.ok / elapsed,
        **outcomes(rec),
        **usage,
    }


async def throughput(ctx: Context) -> dict[str, Any]:
    """Closed loop: how many events per second the server acknowledges at C connections."""
    return await closed_phase(ctx, ctx.event_url, ctx.ledger, ctx.plan.seed, ctx.plan.duration_s)


async def latency(ctx: Context) -> dict[str, Any]:
    """Open loop at a fixed rate: latency as users would see it at that load."""
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.latency_connections) as session:
        cpu = CpuMeter(ctx.target)
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
        **outcomes(rec),
        **usage,
    }


def _batches(plan: Plan, ids: list[str]) -> tuple[list[bytes], list[Counter[str]]]:
    """A few distinct pre-encoded batches cycling through the batch users, value 1 each,
    with the number of events each batch gives each user."""
    bodies: list[bytes] = []
    per_body: list[Counter[str]] = []
    cursor = 0
    for _ in range(max(2, min(8, plan.batch_concurrency * 2))):
        items = []
        counts: Counter[str] = Counter()
        for _ in range(plan.batch_size):
            uid = ids[cursor]
            items.append({"key": plan.batch_metric_key, "user": {"id": uid}, "value": 1})
            counts[uid] += 1
            cursor = (cursor + 1) % len(ids)
        bodies.append(api.batch_body(items))
        per_body.append(counts)
    return bodies, per_body


def _per_user(times: Counter[int], per_body: list[Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for which, n in times.items():
        for uid, count in per_body[which].items():
            total[uid] += count * n
    return total


async def _wait_counted(
    ctx: Context,
    session: aiohttp.ClientSession,
    expected: Counter[str],
    ids: list[str],
    deadline: float,
) -> tuple[bool, dict[str, float], int]:
    """Wait until every batch user's total has reached what was accepted for it.

    Reading 100 totals costs the server about as much as a few hundred events, so while
    the backlog drains only one user (the one with the most events) is polled; the full
    read happens once that one is complete. Returns (drained, last totals, reads).
    """
    base, key = ctx.target.base_url, ctx.plan.batch_metric_key
    sentinel = max(ids, key=lambda u: expected[u])
    reads = 0
    next_note = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        current = await api.metric_total(session, base, sentinel, key)
        reads += 1
        if current >= expected[sentinel]:
            break
        if time.perf_counter() >= next_note:
            share = current / expected[sentinel] if expected[sentinel] else 1.0
            ctx.note(f"batch backlog: about {share:.0%} of the accepted events counted")
            next_note += 5
        await asyncio.sleep(0.2)
    while True:
        totals = await api.metric_totals(session, base, ids, key)
        reads += len(ids)
        if all(totals[u] >= expected[u] for u in ids):
            return True, totals, reads
        if time.perf_counter() >= deadline:
            return False, totals, reads
        await asyncio.sleep(0.5)


async def batch(ctx: Context) -> dict[str, Any]:
    """Batch endpoint: accepted events/s at the door, then the end-to-end processing rate.

    The batch events go to their own fresh metric with value 1 over a small set of users,
    so that "everything accepted has been counted" is a handful of cheap reads, and exact:
    the client knows how many events of each accepted batch went to each user.
    """
    plan = ctx.plan
    base = ctx.target.base_url
    ids = ctx.events.user_ids[: plan.batch_users]
    bodies, per_body = _batches(plan, ids)
    async with make_session(ctx.target.admin_key, plan.batch_concurrency + 32) as session:
        cpu = CpuMeter(ctx.target)
        started = time.perf_counter()
        out = await batch_loop(
            session,
            f"{base}/admin/v1/metrics/events",
            bodies,
            concurrency=plan.batch_concurrency,
            duration_s=plan.duration_s,
        )
        send_done = time.perf_counter()
        expected = _per_user(out.accepted_bodies, per_body)
        uncertain = _per_user(out.uncertain_bodies, per_body)
        drained, totals, reads = await _wait_counted(
            ctx, session, expected, ids, send_done + plan.drain_timeout_s
        )
        done = time.perf_counter()
        usage = cpu.read()
    rec = out.rec
    counted = sum(totals.values())
    wrong = [
        {"user": u, "expected": expected[u], "server": totals[u]}
        for u in ids
        if not expected[u] <= totals[u] <= expected[u] + uncertain[u]
    ]
    end_to_end = done - started
    return {
        "batch_size": plan.batch_size,
        "concurrency": plan.batch_concurrency,
        "users": len(ids),
        "duration_s": out.elapsed_s,
        "accepted_events": out.accepted_events,
        "accepted_events_per_s": out.accepted_events / out.elapsed_s,
        "requests_per_s": rec.ok / out.elapsed_s,
        "expected_events": sum(expected.values()),
        "uncertain_events": sum(uncertain.values()),
        "counted_events": counted,
        "drained": drained,
        "exact": drained and not wrong and counted == sum(expected.values()),
        "users_wrong": len(wrong),
        "examples": wrong[:10],
        "drain_after_send_s": done - send_done,
        "end_to_end_s": end_to_end,
        "processed_events_per_s": (counted / end_to_end) if drained and end_to_end else None,
        "total_reads": reads,
        **outcomes(rec),
        **usage,
    }


async def verify(ctx: Context) -> dict[str, Any]:
    """Compare each user's server total with the events the client saw acknowledged.

    Reads every user that was sent an event (not a sample), 32 requests at a time. A
    request that ended in a timeout or transport error may or may not have been counted,
    so a user's total must lie between its acknowledged events and those plus its
    uncertain ones; with no client-side errors that means exactly equal.
    """
    started = time.perf_counter()
    ledger = ctx.ledger
    ids = sorted(ledger.sent, key=lambda u: (len(u), u))
    async with make_session(ctx.target.admin_key, 32) as session:
        totals = await api.metric_totals(session, ctx.target.base_url, ids, ctx.plan.metric_key)
    wrong = [
        {"user": u, "expected": ledger.acked[u], "uncertain": ledger.unknown[u], "server": t}
        for u, t in totals.items()
        if not ledger.acked[u] <= t <= ledger.acked[u] + ledger.unknown[u]
    ]
    expected = sum(ledger.acked.values())
    actual = sum(totals.values())
    return {
        "metric": ctx.plan.metric_key,
        "users_checked": len(ids),
        "expected_total": expected,
        "uncertain": sum(ledger.unknown.values()),
        "server_total": actual,
        "ok": not wrong,
        "exact": not wrong and actual == expected,
        "users_wrong": len(wrong),
        "examples": wrong[:10],
        "seconds": time.perf_counter() - started,
    }
