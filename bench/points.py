"""The `points-overhead` scenario: what live points cost every event.

Closed-loop events/s on the run's metric, first plain, then with two points systems of
five active metric triggers each and three active boosts. With the default thresholds
(all 1) every event fires all ten triggers: it records ten awards and updates two
balances and ten high-water marks. The check is exact: every event has the value 1, so
each user's balance must equal, over the system's triggers, the multiples of the
trigger's threshold among the events acknowledged during the second phase, times its
points, times the system's boost product (an integer, so no rounding is involved).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import aiohttp

from bench import api
from bench.achievements import cpu_ms_per_event, settle
from bench.load import make_session
from bench.report import _cpu_line, _per_event_line, _phase_lines, _target
from bench.scenarios import Context, closed_phase

TARGET = 0.8  # events/s with points / plain events
TRIGGER_POINTS = (1, 2, 3, 5, 8)  # per system: 19 points per event before boosts
BOOSTS = {"a": (2.0, 1.5), "b": (2.0,)}  # system suffix -> multipliers (3 boosts in all)
CHECKED_USERS = 300


def _system(
    key: str, metric_id: str, multipliers: tuple[float, ...], thresholds: tuple[int, ...]
) -> dict[str, Any]:
    return {
        "name": f"Bench {key}",
        "key": key,
        "triggers": [
            {
                "type": "metric",
                "points": points,
                "metricId": metric_id,
                "metricThreshold": threshold,
                "status": "active",
            }
            for points, threshold in zip(TRIGGER_POINTS, thresholds, strict=True)
        ],
        "boosts": [
            {"name": f"x{m:g}", "start": "2000-01-01", "multiplier": m, "rounding": "down"}
            for m in multipliers
        ],
    }


async def _metric_id(session: aiohttp.ClientSession, base: str, key: str) -> str:
    async with session.get(f"{base}/admin/v1/metrics", params={"limit": 100}) as resp:
        found = [m["id"] for m in json.loads(await resp.text()) if m["key"] == key]
    if not found:
        raise api.BenchError(f"metric {key!r} not found")
    return str(found[0])


async def _balance(session: aiohttp.ClientSession, base: str, user: str, key: str) -> int:
    async with session.get(f"{base}/v1/users/{user}/points/{key}", params={"awards": 1}) as resp:
        payload = await resp.text()
        if resp.status != 200:
            raise api.BenchError(f"points of {user}: HTTP {resp.status} {payload[:200]}")
        return int(json.loads(payload)["total"])


async def points_overhead(ctx: Context) -> dict[str, Any]:
    plan, target = ctx.plan, ctx.target
    base = target.base_url
    suffix = plan.metric_key.removeprefix("lessons")
    keys = {name: f"bench_{name}{suffix}" for name in BOOSTS}
    if plan.warmup_s > 0:
        ctx.note(f"points-overhead: warm-up, {plan.warmup_s:g} s")
        await closed_phase(ctx, ctx.event_url, ctx.ledger, plan.seed + 41, plan.warmup_s)
    ctx.note(f"points-overhead: plain events, {plan.duration_s:g} s")
    without = await closed_phase(ctx, ctx.event_url, ctx.ledger, plan.seed + 42, plan.duration_s)
    async with make_session(target.admin_key, 4) as session:
        metric_id = await _metric_id(session, base, plan.metric_key)
        body = [_system(keys[n], metric_id, BOOSTS[n], plan.points_thresholds) for n in BOOSTS]
        async with session.post(f"{base}/admin/v1/points", json=body) as resp:
            created = json.loads(await resp.text())
        if resp.status != 201 or created["issues"]:
            raise api.BenchError(f"creating points systems: HTTP {resp.status} {created}")
        system_ids = [s["id"] for s in created["created"]]
    settled = await settle(target)
    before = Counter(ctx.ledger.acked)
    unknown_before = Counter(ctx.ledger.unknown)
    ctx.note(f"points-overhead: with points, {plan.duration_s:g} s")
    with_ = await closed_phase(ctx, ctx.event_url, ctx.ledger, plan.seed + 43, plan.duration_s)
    acked = ctx.ledger.acked - before
    uncertain = ctx.ledger.unknown - unknown_before
    users = [u for u in acked if not uncertain[u]]
    random.Random(plan.seed + 44).shuffle(users)
    wrong = []
    async with make_session(target.admin_key, 8) as session:
        for user in users[:CHECKED_USERS]:
            for name, key in keys.items():
                product = 1.0
                for m in BOOSTS[name]:
                    product *= m
                expected = int(product) * sum(
                    acked[user] // threshold * points
                    for points, threshold in zip(
                        TRIGGER_POINTS, plan.points_thresholds, strict=True
                    )
                )
                got = await _balance(session, base, user, key)
                if got != expected:
                    wrong.append({"user": user, "system": key, "expected": expected, "got": got})
        # Archived, the systems cost the later scenarios nothing (balances stay).
        async with session.delete(
            f"{base}/admin/v1/points", params={"ids": ",".join(system_ids)}
        ) as resp:
            await resp.read()
    ratio = with_["events_per_s"] / without["events_per_s"] if without["events_per_s"] else None
    return {
        "systems": len(BOOSTS),
        "triggers_per_system": len(TRIGGER_POINTS),
        "thresholds": list(plan.points_thresholds),
        "boosts": sum(len(m) for m in BOOSTS.values()),
        "concurrency": plan.concurrency,
        "settle": settled,
        "without": without,
        "with": with_,
        "ratio": ratio,
        "target_ratio": TARGET,
        "cpu_ms_per_event": {"without": cpu_ms_per_event(without), "with": cpu_ms_per_event(with_)},
        "check": {
            "ok": not wrong,
            "users_checked": min(len(users), CHECKED_USERS),
            "balances_wrong": len(wrong),
            "examples": wrong[:5],
        },
        "failed": without["failed"] + with_["failed"],
        "failures": dict(Counter(without["failures"]) + Counter(with_["failures"])),
        "failure_samples": {**with_["failure_samples"], **without["failure_samples"]},
    }


def points_text(r: dict[str, Any]) -> str:
    ratio = r["ratio"]
    check = r["check"]
    verdict = (
        f"OK, {check['users_checked']} users' balances = their events x points x boosts"
        if check["ok"]
        else f"MISMATCH in {check['balances_wrong']} balances, e.g. {check['examples'][:2]}"
    )
    return "\n".join(
        [
            f"\n[points-overhead] {r['systems']} systems x {r['triggers_per_system']} active "
            f"triggers (thresholds {', '.join(map(str, r.get('thresholds', [1] * 5)))}), "
            f"{r['boosts']} active boosts; closed loop, {r['concurrency']} connections",
            *_phase_lines("plain", r["without"]),
            _cpu_line(r["without"], "cpu"),
            *_phase_lines("points", r["with"]),
            _cpu_line(r["with"], "cpu"),
            f"  ratio     {ratio:10.3f}   (events/s with points / plain; target >= "
            f"{r['target_ratio']:.2f}: {_target(ratio >= r['target_ratio'])})"
            if ratio is not None
            else "  ratio            n/a",
            *_per_event_line(r["cpu_ms_per_event"]),
            f"  check     {verdict}",
        ]
    )


def findings(r: dict[str, Any] | None, problems: list[str], warnings: list[str]) -> None:
    if not r:
        return
    if not r["check"]["ok"]:
        problems.append(
            f"points-overhead: {r['check']['balances_wrong']} balances differ: "
            f"{r['check']['examples'][:2]}"
        )
    if r["ratio"] is not None and r["ratio"] < r["target_ratio"]:
        warnings.append(
            f"points-overhead: with points the server managed {r['ratio']:.0%} of the plain "
            f"events/s (target {r['target_ratio']:.0%})"
        )
