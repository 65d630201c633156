"""`python -m bench.run`: start a fresh server, load it, print and save the figures.

    python -m bench.run --database sqlite            # what `make bench` runs
    python -m bench.run --database postgres          # what `make bench-pg` runs
    python -m bench.run --duration 3 --scenarios throughput
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
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import api, report, scenarios
from bench.load import EventBodies, make_session
from bench.server import (
    DEFAULT_PG_URL,
    Target,
    managed_server,
    scan_log,
    wait_ready,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
USER_TZ = "Europe/London"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Load-test Plaudit's event ingestion and report events/s and latency.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    server = p.add_argument_group("server under test")
    server.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    server.add_argument(
        "--workers", type=int, help="server processes (default: 1 for sqlite, 2 for postgres)"
    )
    server.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL database to connect to for CREATE/DROP DATABASE of the run's database",
    )
    server.add_argument("--url", help="target this running server instead of starting one")
    server.add_argument(
        "--admin-key",
        default=os.environ.get("PLAUDIT_ADMIN_KEY"),
        help="admin key of the --url server (default: $PLAUDIT_ADMIN_KEY)",
    )
    load = p.add_argument_group("load")
    load.add_argument(
        "--scenarios",
        default=",".join(scenarios.SCENARIOS),
        help=f"comma-separated subset of {', '.join(scenarios.SCENARIOS)}",
    )
    load.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    load.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up load")
    load.add_argument("--concurrency", type=int, default=64, help="throughput: connections")
    load.add_argument("--rate", type=float, default=500.0, help="latency: events per second")
    load.add_argument(
        "--latency-connections", type=int, default=256, help="latency: connection pool size"
    )
    load.add_argument("--users", type=int, default=10_000, help="users the events go to")
    load.add_argument("--batch-size", type=int, default=1000, help="batch: events per request")
    load.add_argument("--batch-concurrency", type=int, default=4, help="batch: parallel requests")
    load.add_argument("--batch-users", type=int, default=100, help="batch: users the events go to")
    load.add_argument(
        "--drain-timeout", type=float, default=180.0, help="batch: seconds to wait for processing"
    )
    load.add_argument("--seed", type=int, default=1, help="seed of the random user choice")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = p.parse_args(argv)

    chosen = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = [s for s in chosen if s not in scenarios.SCENARIOS]
    if unknown or not chosen:
        p.error(f"--scenarios: unknown {unknown}; choose from {', '.join(scenarios.SCENARIOS)}")
    args.scenarios = tuple(s for s in scenarios.SCENARIOS if s in chosen)
    if args.url and not args.admin_key:
        p.error("--url needs --admin-key (or PLAUDIT_ADMIN_KEY)")
    if args.workers is None and not args.url:
        args.workers = 1 if args.database == "sqlite" else 2
    for name in ("duration", "rate", "concurrency", "users", "batch_size", "batch_concurrency"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
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
    )


def say(text: str) -> None:
    print(text, flush=True)


def progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


def problems_of(result: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name in scenarios.SCENARIOS:
        r = result["scenarios"].get(name)
        if r and r["failed"]:
            found.append(f"{name}: {r['failed']} requests failed ({r['failures']})")
    b = result["scenarios"].get("batch")
    if b and not (b["drained"] and b["exact"]):
        found.append(
            f"batch: {b['counted_events']:g} counted vs {b['accepted_events']} accepted events"
        )
    v = result.get("verification")
    if v and not v["ok"]:
        found.append(
            f"check: server total {v['server_total']:g} vs {v['expected_total']} acknowledged"
        )
    return found


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
    async with target_for(args) as target:
        target_info = {
            "database": target.database,
            "database_version": target.database_version,
            "workers": target.workers,
            "base_url": target.base_url,
        }
        result["server"] = target_info
        say(report.header(info, target_info, {**asdict(plan), "client_loop": client_loop}))

        progress(f"creating metrics and {plan.users} users")
        async with make_session(target.admin_key, 4) as session:
            await api.create_metric(session, target.base_url, "Lessons", plan.metric_key)
            if "batch" in plan.scenarios:
                await api.create_metric(
                    session, target.base_url, "Lessons (batch)", plan.batch_metric_key
                )
        ids = api.user_ids(plan.users, plan.user_prefix)
        seconds = await api.create_users(
            target.base_url, target.admin_key, ids, plan.metric_key, USER_TZ, timeout_s=300
        )
        result["setup"] = {"users": plan.users, "seconds": seconds}
        say(report.setup_text(result["setup"]))

        ctx = scenarios.Context(target=target, plan=plan, events=EventBodies.build(ids))
        steps: list[tuple[str, Callable[[scenarios.Context], Coroutine[Any, Any, dict[str, Any]]]]]
        steps = [
            ("throughput", scenarios.throughput),
            ("latency", scenarios.latency),
            ("batch", scenarios.batch),
        ]
        texts = {
            "throughput": report.throughput_text,
            "latency": report.latency_text,
            "batch": report.batch_text,
        }
        if plan.warmup_s > 0 and {"throughput", "latency"} & set(plan.scenarios):
            progress(f"warm-up, {plan.warmup_s:g} s")
            result["warmup"] = await scenarios.warm_up(ctx)
        for name, step in steps:
            if name not in plan.scenarios:
                continue
            if name == "batch" and "verification" not in result and ctx.ledger.sent:
                result["verification"] = await _verify(ctx)
            progress(f"{name}, {plan.duration_s:g} s")
            result["scenarios"][name] = await step(ctx)
            say(texts[name](result["scenarios"][name]))
        if "verification" not in result and ctx.ledger.sent:
            result["verification"] = await _verify(ctx)

        if target.log_path is not None:
            scan = scan_log(target.log_path)
            saved = None
            if scan["lines"]:
                saved_path = out_path.with_suffix(".server.log")
                saved_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(target.log_path, saved_path)
                saved = str(saved_path)
            result["server_log"] = {**scan, "saved_to": saved}
            say(report.server_log_text(scan, saved))
        progress("stopping the server")

    problems = problems_of(result)
    result["problems"] = problems
    report.write_json(out_path, result)
    say("")
    if problems:
        say("RESULT: PROBLEMS FOUND")
        for line in problems:
            say(f"  - {line}")
    else:
        say("RESULT: OK (no failed requests, totals add up)")
    say(f"saved        {out_path}")
    return 1 if problems else 0


async def _verify(ctx: scenarios.Context) -> dict[str, Any]:
    progress(f"checking the totals of {len(ctx.ledger.sent)} users")
    verification = await scenarios.verify(ctx)
    say(report.verify_text(verification))
    return verification


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
            return runner.run(run(args, client_loop))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (api.BenchError, RuntimeError, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
