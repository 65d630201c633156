"""`python -m bench.run`: start a fresh server, load it, print and save the figures.

    python -m bench.run --database sqlite            # what `make bench` runs
    python -m bench.run --database postgres          # what `make bench-pg` runs
    python -m bench.run --duration 3 --scenarios throughput
    python -m bench.run --scenarios achievements-overhead,backdate --database postgres
    python -m bench.run --url http://127.0.0.1:8000 --admin-key ...   # an existing server

Exit status: 0 when every request was answered 2xx and every total adds up, 1 when the
run found a problem (non-2xx answers, transport errors, wrong totals, a batch backlog that
never drained), 2 when the benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import achievements, api, points, report, scenarios, webhooks
from bench.load import REQUEST_TIMEOUT_S, EventBodies, make_session
from bench.server import (
    DEFAULT_PG_URL,
    Target,
    managed_server,
    scan_log,
    wait_ready,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Load-test Plaudit's event ingestion and report events/s and latency.",
    )
    server = p.add_argument_group("server under test")
    server.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database of the server started for the run (default: %(default)s)",
    )
    server.add_argument(
        "--workers", type=int, help="server processes (default: 1 for sqlite, 2 for postgres)"
    )
    server.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL database to connect to for CREATE/DROP DATABASE of the run's own "
        "database (default: %(default)s)",
    )
    server.add_argument("--url", help="target this running server instead of starting one")
    server.add_argument(
        "--admin-key",
        help="admin key of the --url server (default: $PLAUDIT_ADMIN_KEY)",
    )
    load = p.add_argument_group("load")
    load.add_argument(
        "--scenarios",
        default=",".join(scenarios.DEFAULT_SCENARIOS),
        help=f"comma-separated subset of {', '.join(scenarios.SCENARIOS)} (default: %(default)s)",
    )
    load.add_argument(
        "--duration", type=float, default=20.0, help="seconds per scenario (default: %(default)s)"
    )
    load.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up load (default: %(default)s)"
    )
    load.add_argument(
        "--concurrency", type=int, default=64, help="throughput: connections (default: %(default)s)"
    )
    load.add_argument(
        "--rate",
        type=float,
        default=500.0,
        help="latency: events per second (default: %(default)s)",
    )
    load.add_argument(
        "--latency-connections",
        type=int,
        default=256,
        help="latency: connection pool size (default: %(default)s)",
    )
    load.add_argument(
        "--users", type=int, default=10_000, help="users the events go to (default: %(default)s)"
    )
    load.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="batch: events per request (default: %(default)s)",
    )
    load.add_argument(
        "--batch-concurrency",
        type=int,
        default=4,
        help="batch: parallel requests (default: %(default)s)",
    )
    load.add_argument(
        "--batch-users",
        type=int,
        default=100,
        help="batch: users the events go to (default: %(default)s)",
    )
    load.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="batch: seconds to wait for processing (default: %(default)s)",
    )
    ach = p.add_argument_group("achievements scenarios")
    ach.add_argument(
        "--backdate-users",
        type=int,
        default=100_000,
        help="backdate: users who have a total when the achievement is activated "
        "(default: %(default)s)",
    )
    ach.add_argument(
        "--backdate-rate",
        type=float,
        default=50.0,
        help="backdate: events per second of the open-loop load meanwhile (default: %(default)s)",
    )
    ach.add_argument(
        "--backdate-timeout",
        type=float,
        default=600.0,
        help="both: seconds to wait for backdating to complete (default: %(default)s)",
    )
    pts = p.add_argument_group("points-overhead scenario")
    pts.add_argument(
        "--points-thresholds",
        default="1,1,1,1,1",
        help="points-overhead: metricThreshold of each system's five triggers (1, 2, 3, 5 "
        "and 8 points); 1 everywhere fires all ten triggers on every event "
        "(default: %(default)s)",
    )
    hooks = p.add_argument_group("webhooks scenario")
    hooks.add_argument(
        "--webhook-events",
        type=int,
        default=10_000,
        help="webhooks: events whose deliveries are timed (default: %(default)s)",
    )
    load.add_argument(
        "--seed", type=int, default=1, help="seed of the random user choice (default: %(default)s)"
    )
    p.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes (bench/results)"
    )
    args = p.parse_args(argv)
    if args.admin_key is None:
        args.admin_key = os.environ.get("PLAUDIT_ADMIN_KEY")

    chosen = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = [s for s in chosen if s not in scenarios.SCENARIOS]
    if unknown or not chosen:
        p.error(f"--scenarios: unknown {unknown}; choose from {', '.join(scenarios.SCENARIOS)}")
    args.scenarios = tuple(s for s in scenarios.SCENARIOS if s in chosen)
    if args.url and not args.admin_key:
        p.error("--url needs --admin-key (or PLAUDIT_ADMIN_KEY)")
    if args.workers is None and not args.url:
        args.workers = 1 if args.database == "sqlite" else 2
    positive = ("duration", "rate", "concurrency", "users", "batch_size", "batch_concurrency")
    more = ("backdate_users", "backdate_rate", "backdate_timeout", "webhook_events")
    for name in (*positive, *more):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    try:
        args.points_thresholds = tuple(int(t) for t in args.points_thresholds.split(","))
    except ValueError:
        args.points_thresholds = ()
    if len(args.points_thresholds) != len(points.TRIGGER_POINTS) or min(args.points_thresholds) < 1:
        p.error(f"--points-thresholds takes {len(points.TRIGGER_POINTS)} positive integers")
    if not 1 <= args.batch_size <= api.MAX_BATCH:
        p.error(f"--batch-size must be between 1 and {api.MAX_BATCH}")
    if args.users > 1_000_000 or not 1 <= args.batch_users <= args.users:
        p.error("--batch-users must be between 1 and --users (at most 1,000,000)")
    return args


@contextlib.asynccontextmanager
async def target_for(args: argparse.Namespace) -> AsyncIterator[Target]:
    if args.url:
        base = args.url.rstrip("/")
        await wait_ready(base, None, None)
        yield Target(base, args.admin_key, "external", args.workers)
        return
    async with managed_server(args.database, args.workers, args.pg_url) as target:
        yield target


def make_plan(args: argparse.Namespace) -> scenarios.Plan:
    # A fresh server gets the plain keys and user ids; an existing one gets metrics and users
    # of their own each run, so that earlier runs' totals cannot spoil the correctness check
    # and "the last user of every setup batch exists" still means the setup is done.
    suffix = "" if not args.url else "_" + secrets.token_hex(3)
    return scenarios.Plan(
        scenarios=args.scenarios,
        duration_s=args.duration,
        warmup_s=args.warmup,
        concurrency=args.concurrency,
        rate=args.rate,
        latency_connections=args.latency_connections,
        users=args.users,
        batch_size=args.batch_size,
        batch_concurrency=args.batch_concurrency,
        batch_users=args.batch_users,
        drain_timeout_s=args.drain_timeout,
        seed=args.seed,
        metric_key="lessons" + suffix,
        batch_metric_key="lessons_batch" + suffix,
        user_prefix="bench" + suffix + "-",
        backdate_users=args.backdate_users,
        backdate_rate=args.backdate_rate,
        backdate_timeout_s=args.backdate_timeout,
        overhead_metric_key="lessons_achievements" + suffix,
        backdate_metric_key="backdate" + suffix,
        backdate_load_metric_key="backdate_load" + suffix,
        backdate_user_prefix="backdate" + suffix + "-",
        webhook_events=args.webhook_events,
        points_thresholds=args.points_thresholds,
        webhook_metric_key="webhook_events" + suffix,
        webhook_user_prefix="hook" + suffix + "-",
    )


def say(text: str) -> None:
    print(text, flush=True)


def progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


def _client_side_timeouts(r: dict[str, Any]) -> int:
    return sum(n for kind, n in r["failures"].items() if "Timeout" in kind or "unfinished" in kind)


def findings(result: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, warnings). Problems make the exit status 1: any failed request that is
    not explained by deliberate overload, and any total that does not add up. Warnings are
    figures to read with care (an overloaded open loop, a saturated client)."""
    problems: list[str] = []
    warnings: list[str] = []
    runs = result["scenarios"]
    for name in scenarios.SCENARIOS:
        r = runs.get(name)
        if not r or not r["failed"]:
            continue
        timeouts = _client_side_timeouts(r)
        saturated = name == "latency" and r["achieved_rate"] < 0.9 * r["target_rate"]
        if saturated and timeouts == r["failed"]:
            warnings.append(
                f"latency: {timeouts} requests timed out after "
                f"{REQUEST_TIMEOUT_S:g} s in the overloaded open loop"
            )
        else:
            problems.append(f"{name}: {r['failed']} requests failed {r['failures']}")
    lat = runs.get("latency")
    if lat and lat["achieved_rate"] < 0.9 * lat["target_rate"]:
        warnings.append(
            f"latency: the server could not sustain {lat['target_rate']:g} events/s (achieved "
            f"{lat['achieved_rate']:.0f}); its latencies are mostly queueing - rerun with a "
            "--rate below the throughput figure to see latency under a sustainable load"
        )
    if lat and lat["send_lateness_p99_ms"] > 5:
        warnings.append("latency: the client fell behind its schedule (see send lag)")
    for name, r in runs.items():
        _cpu_warnings(name, r, warnings)
    b = runs.get("batch")
    if b and not b["exact"]:
        if not b["drained"]:
            problems.append(
                f"batch: only {b['counted_events']:g} of {b['expected_events']} accepted events "
                f"counted after {b['drain_after_send_s']:.0f} s (--drain-timeout)"
            )
        elif b["users_wrong"]:
            problems.append(f"batch: {b['users_wrong']} users' totals differ: {b['examples'][:3]}")
    _achievements_findings(result, problems, warnings)
    _webhooks_findings(result, problems, warnings)
    points.findings(result["scenarios"].get("points-overhead"), problems, warnings)
    v = result.get("verification")
    if v and not v["ok"]:
        problems.append(
            f"check: server total {v['server_total']:g} vs {v['expected_total']} acknowledged "
            f"(+{v['uncertain']} uncertain); {v['users_wrong']} users differ"
        )
    log = result.get("server_log")
    if log and log["levels"]:
        problems.append(f"server log: {log['lines']} warning/error lines {log['levels']}")
    return problems, warnings


def _achievements_findings(
    result: dict[str, Any], problems: list[str], warnings: list[str]
) -> None:
    """Wrong completion counts are problems; a missed performance target is a note, like
    every other figure (the exit status is about correctness)."""
    runs = result["scenarios"]
    o = runs.get("achievements-overhead")
    if o:
        b = o["backdating"]
        if b["overshoot"]:
            problems.append(
                "achievements-overhead: backdating completed achievements for users "
                "below their threshold"
            )
        elif not b["reached"]:
            problems.append(
                f"achievements-overhead: backdating not finished after "
                f"{b['seconds']:.0f} s (--backdate-timeout)"
            )
        if o["check"]["achievements_wrong"]:
            problems.append(
                f"achievements-overhead: {o['check']['achievements_wrong']} "
                f"achievements' completions differ: {o['check']['examples'][:2]}"
            )
        if o["ratio"] is not None and o["ratio"] < o["target_ratio"]:
            warnings.append(
                f"achievements-overhead: with achievements the server managed "
                f"{o['ratio']:.0%} of the events/s without (target "
                f"{o['target_ratio']:.0%})"
            )
        for key, when in (("seed_settle", "first"), ("settle", "second")):
            if o[key]["idle"] is False:
                warnings.append(
                    f"achievements-overhead: the server was still busy "
                    f"({o[key]['busy_pct']:.0f}% of a core) when the {when} phase started"
                )
        for phase in ("without", "with"):
            _cpu_warnings(f"achievements-overhead ({phase})", o[phase], warnings)
    d = runs.get("backdate")
    if d:
        if not d["reached"] or not d["exact"]:
            problems.append(
                f"backdate: {d['completions']} completions, expected exactly "
                f"{d['expected_completions']}"
                + ("" if d["reached"] else f" (waited {d['waited_s']:.0f} s)")
            )
        elif d["database"] == "postgres" and d["backdating_s"] > d["target_s"]:
            warnings.append(
                f"backdate: backdating took {d['backdating_s']:.1f} s "
                f"(target {d['target_s']:g} s on PostgreSQL)"
            )
        if d["setup_settle"]["idle"] is False:
            warnings.append(
                f"backdate: the server was still busy ({d['setup_settle']['busy_pct']:.0f}% of "
                "a core) after the setup when the baseline started"
            )
        if d["load"]["send_lateness_p99_ms"] > 5:
            warnings.append("backdate: the client fell behind its schedule (see send lag)")
        for phase in ("baseline", "during"):
            _cpu_warnings(f"backdate ({phase})", d[phase], warnings)


def _webhooks_findings(result: dict[str, Any], problems: list[str], warnings: list[str]) -> None:
    """Lost, doubled or badly signed webhooks are problems; duplicates of one webhook-id
    are allowed (at least once) and noted, like a missed delivery-rate target."""
    w = result["scenarios"].get("webhooks")
    if not w:
        return
    d = w["delivery"]
    for label, check in (("ingestion phase", w["with"]["check"]), ("burst", d["check"])):
        if not check["ok"]:
            problems.append(
                f"webhooks ({label}): of {check['expected']} webhooks expected, "
                f"{check['missing']} never arrived, {check['doubled']} users got two "
                f"different webhook-ids, {check['stray']} unexpected; e.g. {check['examples']}"
            )
    if w["bad_signatures"]:
        problems.append(f"webhooks: bad signatures, e.g. {w['bad_signatures'][:3]}")
    if w["left_pending"] or w["left_failed"]:
        problems.append(
            f"webhooks: {w['left_pending']} deliveries still pending, {w['left_failed']} failed"
        )
    if w["duplicates"]:
        warnings.append(
            f"webhooks: {w['duplicates']} requests repeated a webhook-id already received "
            "(allowed: delivery is at least once)"
        )
    rate = d["deliveries_per_s"]
    if rate is not None and rate < w["target_per_s"]:
        warnings.append(
            f"webhooks: {rate:.0f} deliveries/s, below the target of {w['target_per_s']:g}"
        )
    for phase in ("without", "with"):
        _cpu_warnings(f"webhooks ({phase})", w[phase], warnings)
    _cpu_warnings("webhooks (delivery)", d, warnings)


def _cpu_warnings(name: str, r: dict[str, Any], warnings: list[str]) -> None:
    if r.get("client_cpu_pct", 0) > 90:
        warnings.append(f"{name}: the client used {r['client_cpu_pct']:.0f}% of a core")
    if (r.get("other_cpu_pct") or 0) > 20:
        warnings.append(
            f"{name}: other processes used {r['other_cpu_pct']:.0f}% of a core meanwhile; "
            "the machine was not quiet, so the figures are low and not comparable"
        )


Step = Callable[[scenarios.Context], Coroutine[Any, Any, dict[str, Any]]]
STEPS: dict[str, tuple[Step, Callable[[dict[str, Any]], str]]] = {
    "throughput": (scenarios.throughput, report.throughput_text),
    "latency": (scenarios.latency, report.latency_text),
    "batch": (scenarios.batch, report.batch_text),
    "achievements-overhead": (achievements.achievements_overhead, report.overhead_text),
    "backdate": (achievements.backdate, report.backdate_text),
    "webhooks": (webhooks.webhooks, report.webhooks_text),
    "points-overhead": (points.points_overhead, points.points_text),
}


async def setup(target: Target, plan: scenarios.Plan) -> tuple[list[str], dict[str, Any]]:
    """Create the metrics and the users; returns the user ids and the setup figures."""
    progress(f"creating metrics and {plan.users} users")
    async with make_session(target.admin_key, 4) as session:
        await api.create_metric(session, target.base_url, "Lessons", plan.metric_key)
        if "batch" in plan.scenarios:
            await api.create_metric(
                session, target.base_url, "Lessons (batch)", plan.batch_metric_key
            )
    ids = api.user_ids(plan.users, plan.user_prefix)
    seconds = await api.create_users(
        target.base_url, target.admin_key, ids, plan.metric_key, api.USER_TZ, timeout_s=300
    )
    figures = {"users": plan.users, "seconds": seconds}
    say(report.setup_text(figures))
    return ids, figures


async def run_scenarios(ctx: scenarios.Context, result: dict[str, Any]) -> None:
    """Warm-up, the chosen scenarios in order, and the check of the `lessons` totals (before
    the batch scenario, so that its backlog cannot slow the check down)."""
    plan = ctx.plan
    if plan.warmup_s > 0 and {"throughput", "latency"} & set(plan.scenarios):
        progress(f"warm-up, {plan.warmup_s:g} s")
        result["warmup"] = await scenarios.warm_up(ctx)
    for name, (step, text) in STEPS.items():
        if name not in plan.scenarios:
            continue
        if name == "batch" and ctx.ledger.sent:
            result["verification"] = await _verify(ctx)
        progress(name if name in achievements.SCENARIOS else f"{name}, {plan.duration_s:g} s")
        result["scenarios"][name] = await step(ctx)
        say(text(result["scenarios"][name]))
    if "verification" not in result and ctx.ledger.sent:
        result["verification"] = await _verify(ctx)


def keep_server_log(target: Target, out_path: Path, result: dict[str, Any]) -> None:
    """Count the server's warnings and errors; keep its log beside the result if any."""
    if target.log_path is None:
        return
    scan = scan_log(target.log_path)
    saved = None
    if scan["lines"]:
        saved_path = out_path.with_suffix(".server.log")
        saved_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target.log_path, saved_path)
        saved = str(saved_path)
    result["server_log"] = {**scan, "saved_to": saved}
    say(report.server_log_text(scan, saved))


def conclude(result: dict[str, Any], out_path: Path) -> int:
    """Print the verdict, write the JSON file; the exit status."""
    problems, warnings = findings(result)
    if "error" in result:
        problems.insert(0, f"the run stopped early: {result['error']}")
    result["problems"] = problems
    result["warnings"] = warnings
    report.write_json(out_path, result)
    say("")
    for line in warnings:
        say(f"note: {line}")
    if problems:
        say("RESULT: PROBLEMS FOUND")
        for line in problems:
            say(f"  - {line}")
    else:
        say("RESULT: OK (no failed requests, totals add up)")
    say(f"saved        {out_path}")
    return 1 if problems else 0


async def run(args: argparse.Namespace, client_loop: str) -> int:
    plan = make_plan(args)
    info = report.machine_info()
    out_path = report.result_path(args.results_dir, args.database if not args.url else "external")
    result: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tool": report.LOAD_TOOL,
        "client_loop": client_loop,
        "machine": info,
        "plan": asdict(plan),
        "scenarios": {},
    }
    progress("starting the server" if not args.url else f"using {args.url}")
    started = stopping = time.perf_counter()
    async with target_for(args) as target:
        progress(f"server ready after {time.perf_counter() - started:.1f} s")
        result["server"] = {
            "database": target.database,
            "database_version": target.database_version,
            "workers": target.workers,
            "base_url": target.base_url,
        }
        say(report.header(info, result["server"], {**asdict(plan), "client_loop": client_loop}))
        ids, result["setup"] = await setup(target, plan)
        ctx = scenarios.Context(target, plan, EventBodies.build(ids), note=progress)
        try:
            await run_scenarios(ctx, result)
        except api.BenchError as exc:  # a server answer the run cannot go on with: report it
            say(f"\nERROR: {exc}")
            result["error"] = str(exc)
        keep_server_log(target, out_path, result)
        if not args.url:
            progress("stopping the server")
        stopping = time.perf_counter()
    if not args.url:
        progress(f"server stopped after {time.perf_counter() - stopping:.1f} s")
    return conclude(result, out_path)


async def _verify(ctx: scenarios.Context) -> dict[str, Any]:
    progress(f"checking the totals of {len(ctx.ledger.sent)} users")
    verification = await scenarios.verify(ctx)
    say(report.verify_text(verification))
    return verification


async def _run_until_signalled(args: argparse.Namespace, client_loop: str) -> int:
    """SIGTERM cancels the run like Ctrl-C does, so the cleanup (stopping the server,
    dropping the PostgreSQL database) still happens."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args, client_loop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    client_loop = "asyncio"
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
        client_loop = "uvloop"  # the cheaper loop leaves more of the shared CPU to the server
    except ImportError:
        pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(_run_until_signalled(args, client_loop))
    except KeyboardInterrupt:
        print("interrupted (any server and database of the run were removed)", file=sys.stderr)
        return 130
    except asyncio.CancelledError:
        print("terminated (any server and database of the run were removed)", file=sys.stderr)
        return 143
    except (api.BenchError, RuntimeError, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
