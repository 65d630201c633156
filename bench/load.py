"""Load loops (closed loop, open loop, batches) and the latency statistics.

Every loop sends pre-encoded bodies over keep-alive connections of one aiohttp session and
records, per request, the status and the latency in integer nanoseconds. Percentiles are
exact (nearest rank over all samples): a 20-second run holds at most a few hundred thousand
samples, so there is no reason to approximate.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

REQUEST_TIMEOUT_S = 30.0
# uvicorn closes idle keep-alive connections after 5 s; dropping ours first means a pooled
# connection is never reused just as the server closes it (a spurious client-side error).
CLIENT_KEEPALIVE_S = 4.0
_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)


def make_session(api_key: str, connections: int) -> aiohttp.ClientSession:
    """One session per scenario: `connections` keep-alive connections to the server."""
    connector = aiohttp.TCPConnector(
        limit=connections, keepalive_timeout=CLIENT_KEEPALIVE_S, use_dns_cache=True
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        headers={"X-API-KEY": api_key, "Content-Type": "application/json"},
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )


def percentile(sorted_values: Sequence[int], pct: float) -> int:
    """Nearest-rank percentile of already sorted values (0 for no values)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(latencies_ns: Sequence[int]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds."""
    values = sorted(latencies_ns)
    ms = 1e-6
    return {
        "count": len(values),
        "mean_ms": (sum(values) / len(values) * ms) if values else 0.0,
        "p50_ms": percentile(values, 50) * ms,
        "p95_ms": percentile(values, 95) * ms,
        "p99_ms": percentile(values, 99) * ms,
        "max_ms": (values[-1] * ms) if values else 0.0,
    }


@dataclass(slots=True)
class Recorder:
    """Outcomes of one scenario: latencies of 2xx answers, and every failure by kind.

    Non-2xx answers and transport errors are kept out of the latency figures (a fast 500
    would flatter them) and are reported on their own.
    """

    latencies_ns: list[int] = field(default_factory=list)
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: dict[str, str] = field(default_factory=dict)
    # Per 2xx answer, when its request was due (perf_counter_ns), parallel to latencies_ns;
    # kept only when asked for, so that one long run can be split into periods afterwards.
    due_ns: list[int] | None = None

    def success(self, latency_ns: int, due_ns: int = 0) -> None:
        self.ok += 1
        self.latencies_ns.append(latency_ns)
        if self.due_ns is not None:
            self.due_ns.append(due_ns)

    def latencies_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Latencies of the 2xx answers whose request was due in [start_ns, end_ns)."""
        assert self.due_ns is not None, "create the Recorder with due_ns=[]"
        return [
            lat
            for lat, due in zip(self.latencies_ns, self.due_ns, strict=True)
            if start_ns <= due < end_ns
        ]

    def failure(self, kind: str, detail: str = "") -> None:
        self.failures[kind] += 1
        if kind not in self.failure_samples:
            self.failure_samples[kind] = detail[:300]


@dataclass(slots=True)
class Ledger:
    """Per user: whether an event was sent, how many the server acknowledged (2xx), and how
    many ended in a transport error or timeout (the server may or may not have counted those).

    The correctness check reads back the totals of exactly the users that were sent
    something: each must be at least `acked` and at most `acked + unknown`.
    """

    sent: set[str] = field(default_factory=set)
    acked: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class EventBodies:
    """Pre-encoded `POST /v1/metrics/{key}/event` bodies, one per user."""

    user_ids: list[str]
    bodies: list[bytes]

    @classmethod
    def build(cls, user_ids: list[str], value: int = 1) -> EventBodies:
        bodies = [
            json.dumps({"user": {"id": uid}, "value": value}, separators=(",", ":")).encode()
            for uid in user_ids
        ]
        return cls(user_ids, bodies)


async def _post_event(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    user_id: str,
    started_ns: int,
    rec: Recorder,
    ledger: Ledger,
) -> bool:
    """Send one event; returns False on a transport error (the caller may back off)."""
    ledger.sent.add(user_id)
    try:
        async with session.post(url, data=body) as resp:
            payload = await resp.read()
            status = resp.status
    except _TRANSPORT_ERRORS as exc:
        rec.failure(type(exc).__name__, str(exc))
        ledger.unknown[user_id] += 1
        return False
    elapsed = time.perf_counter_ns() - started_ns
    if 200 <= status < 300:
        rec.success(elapsed, started_ns)
        ledger.acked[user_id] += 1
    else:
        rec.failure(f"HTTP {status}", payload.decode(errors="replace"))
    return True


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    events: EventBodies,
    *,
    concurrency: int,
    duration_s: float,
    seed: int,
    ledger: Ledger,
) -> tuple[Recorder, float]:
    """`concurrency` senders, each posting back to back until the time is up.

    Returns the recorder and the measured wall time. The latency is that of each request
    as the server answered it; with a closed loop a slow server also lowers the offered
    load, which is why the open-loop scenario exists.
    """
    rec = Recorder()
    n = len(events.bodies)
    started = time.perf_counter()
    deadline = started + duration_s

    async def sender(index: int) -> None:
        rnd = random.Random(seed * 100_003 + index)
        while time.perf_counter() < deadline:
            pick = rnd.randrange(n)
            ok = await _post_event(
                session,
                url,
                events.bodies[pick],
                events.user_ids[pick],
                time.perf_counter_ns(),
                rec,
                ledger,
            )
            if not ok:
                await asyncio.sleep(0.01)  # a dead server must not turn this into a spin

    await asyncio.gather(*(sender(i) for i in range(concurrency)))
    return rec, time.perf_counter() - started


@dataclass(slots=True)
class OpenLoopStats:
    scheduled: int
    sent_late_max_ms: float  # worst delay between a scheduled time and the actual send
    sent_late_p99_ms: float
    unfinished: int  # still in flight when the drain timeout struck


async def open_loop(
    session: aiohttp.ClientSession,
    url: str,
    events: EventBodies,
    *,
    rate: float,
    duration_s: float,
    seed: int,
    ledger: Ledger,
    drain_timeout_s: float = REQUEST_TIMEOUT_S + 5,
    stop: asyncio.Event | None = None,
    keep_due_times: bool = False,
) -> tuple[Recorder, float, OpenLoopStats]:
    """Send at a fixed rate whatever the answers do, timing each from its scheduled instant.

    Request i is due at start + i/rate. It is launched as its own task at that instant (or
    as soon as the client gets there), so a slow answer never delays the next request, and
    its latency runs from the scheduled instant: time spent waiting for a free connection
    or for a late client counts against the server rather than silently disappearing
    (no coordinated omission). Returns the recorder, the wall time from the first scheduled
    send to the last answer, and the scheduling statistics.

    With `stop`, `duration_s` is an upper bound: scheduling ends as soon as the event is set
    (a background load that lasts as long as something else does). `keep_due_times` keeps
    each answer's due time in the recorder, to split the run into periods afterwards.
    """
    rec = Recorder(due_ns=[] if keep_due_times else None)
    rnd = random.Random(seed)
    n = len(events.bodies)
    total = max(1, round(rate * duration_s))
    interval_ns = 1e9 / rate
    in_flight: set[asyncio.Task[bool]] = set()
    lateness: list[int] = []
    start_ns = time.perf_counter_ns() + 5_000_000
    for i in range(total):
        if stop is not None and stop.is_set():
            break
        due = start_ns + int(i * interval_ns)
        delay_ns = due - time.perf_counter_ns()
        if delay_ns > 0:
            await asyncio.sleep(delay_ns / 1e9)
        lateness.append(max(0, time.perf_counter_ns() - due))
        pick = rnd.randrange(n)
        task = asyncio.create_task(
            _post_event(session, url, events.bodies[pick], events.user_ids[pick], due, rec, ledger)
        )
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    unfinished = 0
    if in_flight:
        _done, pending = await asyncio.wait(set(in_flight), timeout=drain_timeout_s)
        unfinished = len(pending)
        for task in pending:
            task.cancel()
            rec.failure("unfinished at drain timeout")
    elapsed = (time.perf_counter_ns() - start_ns) / 1e9
    lateness.sort()
    stats = OpenLoopStats(
        scheduled=len(lateness),
        sent_late_max_ms=(lateness[-1] if lateness else 0) / 1e6,
        sent_late_p99_ms=percentile(lateness, 99) / 1e6,
        unfinished=unfinished,
    )
    return rec, elapsed, stats


@dataclass(slots=True)
class BatchOutcome:
    """What the batch senders saw: per pre-encoded body, how often it was accepted (202) or
    ended in a transport error (perhaps accepted, perhaps not)."""

    rec: Recorder
    accepted_bodies: Counter[int]
    uncertain_bodies: Counter[int]
    accepted_events: int  # sum of `accepted` of the 202 answers
    elapsed_s: float


async def batch_loop(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[bytes],
    *,
    concurrency: int,
    duration_s: float,
) -> BatchOutcome:
    """`concurrency` senders posting pre-encoded batches back to back until the time is up."""
    out = BatchOutcome(Recorder(), Counter(), Counter(), 0, 0.0)
    rec = out.rec
    started = time.perf_counter()
    deadline = started + duration_s

    async def sender(index: int) -> None:
        turn = index
        while time.perf_counter() < deadline:
            which = turn % len(bodies)
            turn += concurrency
            t0 = time.perf_counter_ns()
            try:
                async with session.post(url, data=bodies[which]) as resp:
                    payload = await resp.read()
                    status = resp.status
            except _TRANSPORT_ERRORS as exc:
                rec.failure(type(exc).__name__, str(exc))
                out.uncertain_bodies[which] += 1
                await asyncio.sleep(0.05)
                continue
            elapsed = time.perf_counter_ns() - t0
            if 200 <= status < 300:
                rec.success(elapsed)
                out.accepted_events += int(json.loads(payload)["accepted"])
                out.accepted_bodies[which] += 1
            else:
                rec.failure(f"HTTP {status}", payload.decode(errors="replace"))

    await asyncio.gather(*(sender(i) for i in range(concurrency)))
    out.elapsed_s = time.perf_counter() - started
    return out
