"""The end-of-day streak sweep at scale: N users with daily streaks, 10 % of them due, on
PostgreSQL, and what the sweep does to event latency.

    .venv/bin/python -m bench.streaks                 # 1,000,000 users
    .venv/bin/python -m bench.streaks --users 100000  # quicker

It deploys the way a busy installation would: `plaudit serve --no-worker` answering the
API, and one `plaudit worker` process for jobs and sweeps, on a fresh PostgreSQL database.
The users and their streak state are created directly in SQL (the batch API would take
an hour for a million; the documents are exactly what the server writes): every user is
in UTC with a 5-day streak; 90 % extended today and are next due at the coming midnight;
10 % last extended the day before yesterday, so yesterday's end is overdue (as after a
midnight the sweep has not handled yet) and half of those hold a freeze. Then:

1. an open-loop load of `--rate` events/s goes to other users on a metric outside the
   streak conditions, for `--baseline` seconds: idle latency;
2. the worker starts; the sweep runs until no user is due. Its duration is measured from
   the worker's start until the poll (every 0.25 s) that saw none left;
3. checks: every due user was swept (half lost their streak, half used their freeze), no
   other user was touched, and no webhook was written: no webhook is subscribed, so the
   outbox stores none (docs/webhooks.md; the tests check the rows a subscription gets).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.load import EventBodies, Ledger, latency_summary, make_session, open_loop
from bench.server import (
    DEFAULT_PG_URL,
    _asyncpg_dsn,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    log_tail,
    random_admin_key,
    server_env,
    stop_server,
    wait_ready,
)

DUE_SHARE = 10  # one user in DUE_SHARE is due at MIDNIGHT
TARGET_S = 60.0

# $4 today, $5 yesterday, $6 the day before (UTC dates); $7/$8 the streaks' first days.
_SEED_SQL = """
WITH numbered AS (
    SELECT g AS n FROM generate_series(1, $2::int) AS g
), inserted AS (
    INSERT INTO users (scope_id, id, tz, subscribe_to_emails, attributes, control, created, updated)
    SELECT $1, 'streaker-' || n, 'UTC', true, '{}'::jsonb, false,
           '2020-01-01T00:00:00Z'::timestamptz, '2020-01-01T00:00:00Z'::timestamptz
    FROM numbered
    RETURNING pk, id
)
INSERT INTO user_streaks (user_pk, scope_id, state, length, longest, last_extended_at,
                          next_due, updated)
SELECT i.pk, $1,
       jsonb_build_object(
           'frequency', 'daily', 'tz', 'UTC',
           'today', CASE WHEN due THEN $5::text ELSE $4::text END,
           'freezeAnchor', '2020-01-01', 'length', 5,
           'started', CASE WHEN due THEN $7::text ELSE $8::text END,
           'covered', CASE WHEN due THEN jsonb_build_array($6::text, $6::text)
                           ELSE jsonb_build_array($4::text, $4::text) END,
           'lastExtendedAt', CASE WHEN due THEN $6::text || 'T12:00:00+00:00'
                                  ELSE $4::text || 'T00:00:00+00:00' END,
           'freezes', CASE WHEN due AND (n / $3) % 2 = 0 THEN 1 ELSE 0 END,
           'sums', '[]'::jsonb, 'pauses', '[]'::jsonb, 'past', '[]'::jsonb),
       5, 5,
       CASE WHEN due THEN ($6::text || 'T12:00:00Z')::timestamptz
            ELSE ($4::text || 'T00:00:00Z')::timestamptz END,
       CASE WHEN due THEN ($4::text || 'T00:00:00Z')::timestamptz
            ELSE ($4::text || 'T00:00:00Z')::timestamptz + interval '1 day' END,
       ($4::text || 'T00:00:00Z')::timestamptz
FROM (SELECT pk, (substr(id, 10))::int AS n, (substr(id, 10))::int % $3 = 0 AS due
      FROM inserted) AS i
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.streaks", description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=50.0, help="events/s of the load")
    p.add_argument("--baseline", type=float, default=20.0, help="seconds of idle load")
    p.add_argument("--pg-url", default=os.environ.get("PLAUDIT_BENCH_PG_URL", DEFAULT_PG_URL))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--subscribe",
        action="store_true",
        help="subscribe a local receiver to streak.lost and streak.freeze_consumed, so the "
        "sweep writes (and the worker delivers) a webhook per lost streak and used freeze",
    )
    p.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="PLAUDIT_WORKER_NICE of the worker process (default: %(default)s, the server's)",
    )
    return p.parse_args(argv)


@dataclass(slots=True)
class Receiver:
    """A local webhook receiver for `--subscribe`: 200 at once, distinct webhook-ids by type."""

    url: str = ""
    seen: dict[str, set[str]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        self.seen.setdefault(str(payload.get("type")), set()).add(
            request.headers.get("webhook-id", "")
        )
        return web.Response(status=200)

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in sorted(self.seen.items())}


@asynccontextmanager
async def receiving(enabled: bool) -> AsyncIterator[Receiver | None]:
    if not enabled:
        yield None
        return
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def spawn(args: list[str], env: dict[str, str], workdir: Path, log: str) -> Any:
    with (workdir / log).open("wb") as out:  # the child keeps its own copy of the handle
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plaudit", *args, cwd=workdir, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


async def call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any, expect: int = 200
) -> Any:
    async with session.request(method, url, json=body) as resp:
        payload = await resp.text()
        if resp.status != expect:
            raise RuntimeError(f"{method} {url}: HTTP {resp.status} {payload[:300]}")
        return json.loads(payload) if payload else None


async def seed(args: argparse.Namespace, base: str, key: str, dsn: str) -> dict[str, Any]:
    async with make_session(key, 4) as admin:
        await call(admin, "POST", f"{base}/admin/v1/metrics", [
            {"name": "Streak", "key": "bench_streak"}, {"name": "Load", "key": "bench_load"},
        ], 201)  # fmt: skip
        await call(admin, "PATCH", f"{base}/admin/v1/streaks/settings", {
            "metrics": [{"key": "bench_streak", "threshold": 1}],
            "freezes": {"startCount": 0, "maxCount": 3},
        })  # fmt: skip
    today = dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)
    dates = [(today - n * day).isoformat() for n in (0, 1, 2, 6, 4)]
    conn = await asyncpg.connect(dsn)
    try:
        scope_id = await conn.fetchval("SELECT id FROM scopes WHERE tenant_id IS NULL LIMIT 1")
        print(f"  .. creating {args.users} users with streaks in SQL", flush=True)
        started = time.perf_counter()
        await conn.execute(_SEED_SQL, scope_id, args.users, DUE_SHARE, *dates)
        seed_s = time.perf_counter() - started
        # Settle what a million fresh rows leave to do (hint bits, visibility map, dirty
        # pages) before the baseline: otherwise autovacuum and the checkpointer run during
        # it and the "idle" latency is anything but.
        print("  .. vacuum, analyze, checkpoint", flush=True)
        for statement in ("VACUUM (ANALYZE) users", "VACUUM (ANALYZE) user_streaks", "CHECKPOINT"):
            await conn.execute(statement)
        due = await conn.fetchval(_DUE, dt.datetime.now(dt.UTC))
        size = await conn.fetchval("SELECT pg_total_relation_size('user_streaks')")
    finally:
        await conn.close()
    return {"seed_s": seed_s, "due": due, "user_streaks_bytes": size}


_DUE = "SELECT count(*) FROM user_streaks WHERE next_due <= $1"


async def scenario(
    args: argparse.Namespace,
    base: str,
    key: str,
    dsn: str,
    env: dict[str, str],
    workdir: Path,
    receiver: Receiver | None,
) -> tuple[dict[str, Any], Any]:
    seeded = await seed(args, base, key, dsn)
    if receiver is not None:
        async with make_session(key, 1) as admin:
            await call(admin, "POST", f"{base}/admin/v1/webhooks", [{
                "url": receiver.url, "events": ["streak.lost", "streak.freeze_consumed"],
            }], 201)  # fmt: skip
    due = seeded["due"]
    print(f"  .. {due} of {args.users} users due; load {args.rate:g} events/s", flush=True)
    events = EventBodies.build([f"load-{i}" for i in range(10_000)])
    url = f"{base}/v1/metrics/bench_load/event"
    stop = asyncio.Event()
    worker = None
    conn = await asyncpg.connect(dsn)
    try:
        async with make_session(key, 32) as load_session:
            load_start = time.perf_counter_ns()
            load = asyncio.create_task(open_loop(
                load_session, url, events, rate=args.rate, duration_s=args.baseline + 3600,
                seed=args.seed, ledger=Ledger(), stop=stop, keep_due_times=True,
            ))  # fmt: skip
            try:
                await asyncio.sleep(args.baseline)
                print("  .. starting the worker: the sweep", flush=True)
                cutoff = dt.datetime.now(dt.UTC)
                sweep_start = time.perf_counter_ns()
                worker_env = {**env, "PLAUDIT_WORKER_NICE": str(args.worker_nice)}
                worker = await spawn(["worker"], worker_env, workdir, "worker.log")
                deadline = time.perf_counter() + 600
                while await conn.fetchval(_DUE, cutoff) and time.perf_counter() < deadline:  # noqa: ASYNC110 - polls the database
                    await asyncio.sleep(0.25)
                sweep_end = time.perf_counter_ns()
                await asyncio.sleep(2)
            finally:
                stop.set()
                rec, _elapsed, stats = await load
        left = await conn.fetchval(_DUE, cutoff)
        outcome = dict(await conn.fetch(
            "SELECT length, count(*) FROM user_streaks s JOIN users u ON u.pk = s.user_pk "
            "WHERE u.id LIKE 'streaker-%' GROUP BY length"
        ))  # fmt: skip
        webhooks = dict(await conn.fetch(
            "SELECT type, count(*) FROM webhook_events WHERE type LIKE 'streak.%' GROUP BY type"
        ))  # fmt: skip
    finally:
        await conn.close()
    sweep_s = (sweep_end - sweep_start) / 1e9
    half = due // 2
    expected = {0: due - half, 5: args.users - due + half}
    # Without a subscriber the outbox stores nothing; with one, a row per lost streak and
    # per used freeze.
    wanted_hooks = (
        {"streak.freeze_consumed": half, "streak.lost": due - half} if receiver is not None else {}
    )
    result = {
        "users": args.users,
        **seeded,
        "sweep_s": sweep_s,
        "users_per_s": due / sweep_s if sweep_s else None,
        "target_s": TARGET_S,
        "worker_nice": args.worker_nice,
        "baseline": latency_summary(rec.latencies_between(load_start, sweep_start)),
        "during": latency_summary(rec.latencies_between(sweep_start, sweep_end)),
        "load_failures": dict(rec.failures),
        "send_lateness_p99_ms": stats.sent_late_p99_ms,
        "check": {
            "ok": left == 0 and outcome == expected and webhooks == wanted_hooks,
            "still_due": left,
            "lengths": {str(k): v for k, v in outcome.items()},
            "expected_lengths": {str(k): v for k, v in expected.items()},
            "webhooks": webhooks,
            "delivered_by_the_end": receiver.counts() if receiver is not None else None,
        },
    }
    return result, worker


def report(r: dict[str, Any]) -> None:
    def line(name: str, s: dict[str, float]) -> str:
        return (
            f"  {name:<9} p50 {s['p50_ms']:8.2f} ms   p95 {s['p95_ms']:8.2f} ms   "
            f"p99 {s['p99_ms']:8.2f} ms   max {s['max_ms']:8.2f} ms   ({s['count']:.0f} events)"
        )

    verdict = "MET" if r["sweep_s"] < TARGET_S else "MISSED"
    print(f"\n[streak sweep] {r['users']} users with daily streaks, {r['due']} due")
    size_mb = r["user_streaks_bytes"] / 1e6
    print(f"  seeded     in {r['seed_s']:.1f} s (SQL); user_streaks {size_mb:.0f} MB")
    print(
        f"  sweep      {r['sweep_s']:.1f} s ({r['users_per_s']:.0f} users/s)   "
        f"target < {TARGET_S:.0f} s: {verdict}"
    )
    print(line("baseline", r["baseline"]))
    print(line("during", r["during"]))
    base, during = r["baseline"]["p99_ms"], r["during"]["p99_ms"]
    print(f"  p99 during / baseline: {during / base:.2f} (target <= 2)" if base else "")
    c = r["check"]
    verdict = "OK" if c["ok"] else "PROBLEM"
    print(f"  check      {verdict}: lengths {c['lengths']} (expected {c['expected_lengths']}),")
    print(f"             still due {c['still_due']}, webhooks {c['webhooks']}")
    if c["delivered_by_the_end"] is not None:
        print(f"  delivered  by the end of the run: {c['delivered_by_the_end']}")
    if r["load_failures"]:
        print(f"  load failures: {r['load_failures']}")


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-streaks-"))
    key = random_admin_key()
    name, database_url, version = await create_postgres_database(args.pg_url)
    env = server_env(database_url, key)
    port = free_port()
    server = worker = None
    try:
        server = await spawn(
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-worker"],
            env,
            workdir,
            "server.log",
        )
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, server, workdir / "server.log")
        print(f"server {base} (--no-worker) on {version}; the sweep runs in `plaudit worker`")
        async with receiving(args.subscribe) as receiver:
            result, worker = await scenario(
                args, base, key, _asyncpg_dsn(database_url), env, workdir, receiver
            )
        report(result)
        out = Path(__file__).parent / "results"
        out.mkdir(exist_ok=True)
        path = out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-streaks.json"
        path.write_text(json.dumps(result, indent=2, default=str))
        print(f"saved {path}")
        return 0 if result["check"]["ok"] else 1
    except BaseException:
        for log in ("server.log", "worker.log"):
            print(log_tail(workdir / log), file=sys.stderr)
        raise
    finally:
        for proc in (worker, server):
            if proc is not None:
                await stop_server(proc)
        await drop_postgres_database(args.pg_url, name)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
