"""The achievements scenarios: what live metric achievements cost every event, and how long
backdating a newly activated achievement takes while events keep flowing.

Both check their outcome exactly. The client knows every user's total on the scenario's
own metric (the values it seeded plus the events the server acknowledged), so it knows how
many users must have completed each achievement, and compares that with the `completions`
that `GET /v1/achievements` reports: a fast achievement that completes for the wrong users,
twice, or not at all is not a win.
"""

from __future__ import annotations

import asyncio
import random
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import api
from bench.load import Ledger, latency_summary, make_session, open_loop
from bench.scenarios import Context, CpuMeter, closed_phase, outcomes
from bench.server import Target

# achievements-overhead: 50 thresholds 50, 100, ..., 2500 over totals seeded at 1..1000, so
# that totals are spread evenly modulo 50 and about one event in 50 crosses a threshold
# (a real completion: insert, webhook outbox row, the achievement in the response).
OVERHEAD_ACHIEVEMENTS = 50
OVERHEAD_STEP = 50
OVERHEAD_SEED_MAX = 1000
OVERHEAD_TARGET = 0.9  # events/s with achievements / without
# backdate: every user gets a total of 1..10; the achievement wants at least 6 (about half).
BACKDATE_MAX_VALUE = 10
BACKDATE_THRESHOLD = 6
BACKDATE_TARGET_S = 60.0  # on PostgreSQL, activation until every completion exists
SCENARIOS = ("achievements-overhead", "backdate")
POLL_S = 0.25  # completions are polled this often: the resolution of the durations
IDLE_PCT = 15.0  # server + database CPU (% of a core) below which the server counts as idle
SETTLE_TIMEOUT_S = 30.0


def expected_completions(
    thresholds: Mapping[str, int], seeds: Mapping[str, int], ledger: Ledger
) -> dict[str, tuple[int, int]]:
    """Per achievement id: how many users have a total of at least its threshold, as a range
    (acknowledged events only; plus the events of requests that failed on the client side,
    which the server may or may not have counted)."""
    low = sorted(v + ledger.acked[u] for u, v in seeds.items())
    high = sorted(v + ledger.acked[u] + ledger.unknown[u] for u, v in seeds.items())
    return {
        a: (len(low) - bisect_left(low, t), len(high) - bisect_left(high, t))
        for a, t in thresholds.items()
    }


@dataclass(slots=True)
class Completions:
    """What polling `GET /v1/achievements` saw until the counts were as expected."""

    reached: bool  # every count within its expected range
    overshoot: bool  # some count above its range: completions that must not exist
    seconds: float  # from `started` until the poll that saw the expected counts
    first_s: float | None  # until the first poll that saw any completion
    counts: dict[str, int]
    polls: int
    progress: list[tuple[float, int]] = field(default_factory=list)  # (s, sum), ~1 per second


async def await_completions(
    ctx: Context,
    session: aiohttp.ClientSession,
    wanted: Mapping[str, tuple[int, int]],
    started: float,
    timeout_s: float,
    label: str,
) -> Completions:
    """Poll the completion counts every POLL_S until each is within its range (or one is
    above it, or `timeout_s` after `started`). The counts are what the job has committed,
    so "all there" means the backdating job is done."""
    base = ctx.target.base_url
    target_sum = sum(lo for lo, _ in wanted.values())
    out = Completions(False, False, 0.0, None, {}, 0)
    next_sample = next_note = 0.0
    while True:
        every = await api.achievement_completions(session, base)
        out.polls += 1
        now = time.perf_counter() - started
        out.counts = {a: every.get(a, 0) for a in wanted}
        total = sum(out.counts.values())
        if out.first_s is None and total > 0:
            out.first_s = now
        if now >= next_sample:
            out.progress.append((round(now, 2), total))
            next_sample = now + 1.0
        out.seconds = now
        out.overshoot = any(out.counts[a] > hi for a, (_, hi) in wanted.items())
        out.reached = all(lo <= out.counts[a] <= hi for a, (lo, hi) in wanted.items())
        if out.reached or out.overshoot or now > timeout_s:
            out.progress.append((round(now, 2), total))
            return out
        if now >= next_note + 5:
            ctx.note(f"{label}: {total} of {target_sum} completions after {now:.0f} s")
            next_note = now
        await asyncio.sleep(POLL_S)


async def settle(target: Target) -> dict[str, Any]:
    """Wait until the server and its PostgreSQL backends use less than IDLE_PCT of a core
    over a second (jobs, vacuum-like aftermath of a big write), at most SETTLE_TIMEOUT_S.
    An external server's CPU is not visible: it gets a flat 2 s."""
    started = time.perf_counter()
    if target.pid is None:
        await asyncio.sleep(2.0)
        return {"seconds": 2.0, "idle": None, "busy_pct": None}
    while True:
        cpu = CpuMeter(target)
        await asyncio.sleep(1.0)
        usage = cpu.read()
        busy = (usage["server_cpu_pct"] or 0.0) + (usage["database_cpu_pct"] or 0.0)
        idle = busy < IDLE_PCT
        if idle or time.perf_counter() - started > SETTLE_TIMEOUT_S:
            return {
                "seconds": time.perf_counter() - started,
                "idle": idle,
                "busy_pct": round(busy, 1),
            }


def cpu_ms_per_event(phase: dict[str, Any]) -> float | None:
    """Server (+ PostgreSQL) CPU milliseconds per acknowledged event: unlike events/s, it
    hardly moves when another program takes a share of the machine, so it is the steadier
    way to compare two phases on a shared or noisy machine."""
    server = phase.get("server_cpu_pct")
    if server is None or not phase["ok"]:
        return None
    busy = (server + (phase.get("database_cpu_pct") or 0.0)) / 100 * phase["duration_s"]
    return float(busy / phase["ok"] * 1000)


def _failures(*phases: dict[str, Any]) -> dict[str, Any]:
    """The failures of several phases in the shape every scenario result has at its top."""
    kinds: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for phase in phases:
        kinds.update(phase["failures"])
        for kind, sample in phase["failure_samples"].items():
            samples.setdefault(kind, sample)
    return {"failed": sum(kinds.values()), "failures": dict(kinds), "failure_samples": samples}


async def achievements_overhead(ctx: Context) -> dict[str, Any]:
    """Closed-loop events/s on one metric without achievements, then with 50 active ones.

    The metric is the scenario's own, with every user's total seeded (1..1000) through the
    batch API, so that events cross thresholds from the start. Creating the achievements
    starts backdating jobs (about ten completions per user); the second phase starts only
    once they have all been committed and the server is idle again.
    """
    plan, target = ctx.plan, ctx.target
    base, key = target.base_url, plan.overhead_metric_key
    ids = ctx.events.user_ids
    rnd = random.Random(plan.seed + 30)
    seeds = {u: rnd.randint(1, OVERHEAD_SEED_MAX) for u in ids}
    ledger = Ledger()
    async with make_session(target.admin_key, 4) as session:
        metric_id = await api.create_metric(session, base, "Lessons (achievements)", key)
    ctx.note(f"achievements-overhead: seeding the totals of {len(ids)} users")
    seed_s = await api.add_to_totals(
        base, target.admin_key, list(seeds.items()), key, api.USER_TZ, timeout_s=300
    )
    seeded_settle = await settle(target)
    url = f"{base}/v1/metrics/{key}/event"
    if plan.warmup_s > 0:
        ctx.note(f"achievements-overhead: warm-up, {plan.warmup_s:g} s")
        await closed_phase(ctx, url, ledger, plan.seed + 31, plan.warmup_s)
    ctx.note(f"achievements-overhead: without achievements, {plan.duration_s:g} s")
    without = await closed_phase(ctx, url, ledger, plan.seed + 32, plan.duration_s)

    levels = [OVERHEAD_STEP * (i + 1) for i in range(OVERHEAD_ACHIEVEMENTS)]
    items: list[dict[str, object]] = [
        {
            "name": f"{level} lessons",
            "trigger": "metric",
            "metricId": metric_id,
            "metricValue": level,
            "status": "active",
        }
        for level in levels
    ]
    async with make_session(target.admin_key, 4) as session:
        ctx.note(f"achievements-overhead: creating {len(items)} achievements, backdating")
        started = time.perf_counter()
        achievement_ids = await api.create_achievements(session, base, items)
        thresholds = dict(zip(achievement_ids, levels, strict=True))
        backdated = await await_completions(
            ctx,
            session,
            expected_completions(thresholds, seeds, ledger),
            started,
            plan.backdate_timeout_s,
            "achievements-overhead backdating",
        )
        settled = await settle(target)
    ctx.note(f"achievements-overhead: with {len(items)} achievements, {plan.duration_s:g} s")
    with_ = await closed_phase(ctx, url, ledger, plan.seed + 33, plan.duration_s)
    async with make_session(target.admin_key, 4) as session:
        every = await api.achievement_completions(session, base)
        # Archived, they no longer cost the later scenarios anything (completions stay).
        await api.archive_achievements(session, base, achievement_ids)

    final = {a: every.get(a, 0) for a in achievement_ids}
    wanted = expected_completions(thresholds, seeds, ledger)
    wrong = [
        {"threshold": thresholds[a], "expected": list(wanted[a]), "server": final[a]}
        for a in achievement_ids
        if not wanted[a][0] <= final[a] <= wanted[a][1]
    ]
    backdated_sum = sum(backdated.counts.values())
    return {
        "metric": key,
        "users": len(ids),
        "seed_max": OVERHEAD_SEED_MAX,
        "achievements": len(items),
        "thresholds": {"first": levels[0], "last": levels[-1], "step": OVERHEAD_STEP},
        "concurrency": plan.concurrency,
        "seed_s": seed_s,
        "seed_settle": seeded_settle,
        "backdating": {
            "reached": backdated.reached,
            "overshoot": backdated.overshoot,
            "seconds": backdated.seconds,
            "completions": backdated_sum,
            "polls": backdated.polls,
        },
        "settle": settled,
        "without": without,
        "with": with_,
        "ratio": with_["events_per_s"] / without["events_per_s"]
        if without["events_per_s"]
        else None,
        "cpu_ms_per_event": {"without": cpu_ms_per_event(without), "with": cpu_ms_per_event(with_)},
        "target_ratio": OVERHEAD_TARGET,
        "completions_during_with": sum(final.values()) - backdated_sum,
        "check": {
            "ok": not wrong and backdated.reached,
            "achievements_wrong": len(wrong),
            "examples": wrong[:5],
            "uncertain_events": sum(ledger.unknown.values()),
        },
        **_failures(without, with_),
    }


async def backdate(ctx: Context) -> dict[str, Any]:
    """Activate a metric achievement that E of N existing users already qualify for, while a
    light open-loop event load goes to other users: how long until all E completions exist,
    whether exactly E do, and what the backdating does to the latency of that load.

    The load runs from the start of a baseline period (`duration_s`) until the completions
    are all there; its answers are split by their scheduled send time into the baseline
    and the backdating period, so both figures come from one uninterrupted load.
    """
    plan, target = ctx.plan, ctx.target
    base = target.base_url
    n = plan.backdate_users
    rnd = random.Random(plan.seed + 40)
    values = [
        (u, rnd.randint(1, BACKDATE_MAX_VALUE)) for u in api.user_ids(n, plan.backdate_user_prefix)
    ]
    expected = sum(1 for _, v in values if v >= BACKDATE_THRESHOLD)
    async with make_session(target.admin_key, 4) as session:
        metric_id = await api.create_metric(session, base, "Backdate", plan.backdate_metric_key)
        await api.create_metric(session, base, "Backdate load", plan.backdate_load_metric_key)
    ctx.note(f"backdate: creating {n} users with totals of 1..{BACKDATE_MAX_VALUE}")
    setup_s = await api.add_to_totals(
        base,
        target.admin_key,
        values,
        plan.backdate_metric_key,
        api.USER_TZ,
        timeout_s=max(300.0, n / 100),
    )
    ctx.note("backdate: waiting for the server to be idle")
    setup_settle = await settle(target)
    definition: dict[str, object] = {
        "name": f"At least {BACKDATE_THRESHOLD}",
        "trigger": "metric",
        "metricId": metric_id,
        "metricValue": BACKDATE_THRESHOLD,
        "status": "inactive",
    }
    load_url = f"{base}/v1/metrics/{plan.backdate_load_metric_key}/event"
    stop = asyncio.Event()
    async with (
        make_session(target.admin_key, 4) as session,
        make_session(target.admin_key, plan.latency_connections) as load_session,
    ):
        [achievement_id] = await api.create_achievements(session, base, [definition])
        ctx.note(
            f"backdate: load at {plan.backdate_rate:g} events/s, baseline {plan.duration_s:g} s"
        )
        load_start = time.perf_counter_ns()
        load = asyncio.create_task(
            open_loop(
                load_session,
                load_url,
                ctx.events,
                rate=plan.backdate_rate,
                duration_s=plan.duration_s + plan.backdate_timeout_s + 60,
                seed=plan.seed + 41,
                ledger=Ledger(),
                stop=stop,
                keep_due_times=True,
            )
        )
        try:
            cpu = CpuMeter(target)
            await asyncio.sleep(plan.duration_s)
            baseline_cpu = cpu.read()
            cpu = CpuMeter(target)
            ctx.note(f"backdate: activating; {expected} of {n} users qualify")
            activated = time.perf_counter()
            activated_ns = time.perf_counter_ns()
            await api.update_achievements(
                session, base, [{"id": achievement_id, "status": "active"}]
            )
            activate_request_s = time.perf_counter() - activated
            seen = await await_completions(
                ctx,
                session,
                {achievement_id: (expected, expected)},
                activated,
                plan.backdate_timeout_s,
                "backdate",
            )
            done_ns = time.perf_counter_ns()
            during_cpu = cpu.read()
        finally:
            stop.set()
            rec, _elapsed, stats = await load
        final = (await api.achievement_completions(session, base)).get(achievement_id, 0)

    baseline = rec.latencies_between(load_start, activated_ns)
    during = rec.latencies_between(activated_ns, done_ns)
    load_outcome = outcomes(rec)
    del load_outcome["latency"]  # the whole run's figure mixes both periods
    return {
        "database": target.database,
        "users": n,
        "metric": plan.backdate_metric_key,
        "values": [1, BACKDATE_MAX_VALUE],
        "threshold": BACKDATE_THRESHOLD,
        "expected_completions": expected,
        "setup_s": setup_s,
        "setup_settle": setup_settle,
        "activate_request_s": activate_request_s,
        "reached": seen.reached,
        "backdating_s": seen.seconds if seen.reached else None,
        "waited_s": seen.seconds,
        "first_completion_s": seen.first_s,
        "completions": final,
        "completions_per_s": expected / seen.seconds if seen.reached and seen.seconds else None,
        "exact": final == expected,
        "polls": seen.polls,
        "progress": seen.progress,
        "target_s": BACKDATE_TARGET_S,
        "load": {
            "metric": plan.backdate_load_metric_key,
            "rate": plan.backdate_rate,
            "scheduled": stats.scheduled,
            "send_lateness_p99_ms": stats.sent_late_p99_ms,
            "send_lateness_max_ms": stats.sent_late_max_ms,
            "unfinished": stats.unfinished,
        },
        "baseline": {
            "duration_s": (activated_ns - load_start) / 1e9,
            "latency": latency_summary(baseline),
            **baseline_cpu,
        },
        "during": {
            "duration_s": (done_ns - activated_ns) / 1e9,
            "latency": latency_summary(during),
            **during_cpu,
        },
        **load_outcome,
    }
