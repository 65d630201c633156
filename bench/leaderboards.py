"""One leaderboard run with N participants on PostgreSQL: how fast are ranks, pages and
score-changing events, and how much memory does it take?

    .venv/bin/python -m bench.leaderboards                    # 1,000,000 participants
    .venv/bin/python -m bench.leaderboards --users 10000      # a smoke run

It starts `plaudit serve --no-worker` on a fresh database, creates a metric and a
perpetual leaderboard with `maxParticipants` = N through the Admin API, and writes the N
users and their entries directly in SQL (exactly the rows the server writes; the API
would take an hour for a million). Values are random with many ties. Then, each for
`--samples` requests from `--concurrency` clients, random users throughout the board:

- a user's rank: `GET /v1/users/{id}/leaderboards/{key}?numEvents=0`;
- the top-100 page: `GET /v1/leaderboards/{key}?limit=100`;
- an around-me page: `GET /v1/leaderboards/{key}?userId=…&offset=-5&limit=11`;
- `GET /v1/leaderboards` (no ranking: the baseline of the machine and HTTP);
- a score-changing event: `POST /v1/metrics/{key}/event` (the rank, previous rank and
  threshold in its response), also reported as events/s.

With `--redis-url` (the default) the server keeps its rank cache in Redis (see
`plaudit/leaderboards/redis_ranks.py`): the benchmark waits until the cache has been
rebuilt from the database before measuring; `--redis-url ''` measures the SQL-only path.

Memory: the server's resident set, the entries table with its indexes, and Redis
`used_memory` (of the whole Redis database: use an otherwise empty one).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.load import latency_summary, make_session
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
from bench.streaks import call, spawn

KEY = "bench"
READ_TARGET_P99_MS = 5.0
EVENTS_TARGET_PER_S = 1500.0

_SEED_SQL = """
WITH inserted AS (
    INSERT INTO users (scope_id, id, tz, subscribe_to_emails, attributes, control, created, updated)
    SELECT $1, 'lb-' || g, 'UTC', true, '{}'::jsonb, false, now(), now()
    FROM generate_series(1, $2::int) AS g
    RETURNING pk, id
)
INSERT INTO leaderboard_entries (leaderboard_id, run_start, user_pk, group_key, user_key,
                                 neg_value, reached_at, version)
SELECT $3::uuid, $4::date, pk, '', convert_to(id, 'UTF8'),
       -(1 + floor(random() * 1000))::bigint * 1000000,
       now() - (random() * interval '1 day'), 1
FROM inserted
"""


CHECKS = ("baseline", "rank", "top_100", "around_me", "event")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.leaderboards", description=__doc__.split("\n")[0]
    )
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=2000, help="requests per measurement")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--pg-url", default=os.environ.get("PLAUDIT_BENCH_PG_URL", DEFAULT_PG_URL))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--only",
        default=",".join(CHECKS),
        help=f"comma-separated measurements to run (of {','.join(CHECKS)}), e.g. to profile one",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("PLAUDIT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="Redis for the rank cache ('' for none); flushed before and after",
    )
    return p.parse_args(argv)


async def measure(
    session: aiohttp.ClientSession,
    samples: int,
    concurrency: int,
    request: Callable[[int], tuple[str, str, Any]],
) -> tuple[dict[str, float], float]:
    """Latency summary of `samples` requests from `concurrency` clients, and requests/s."""
    latencies: list[int] = []
    counter = iter(range(samples))

    async def client() -> None:
        for index in counter:
            method, url, body = request(index)
            started = time.perf_counter_ns()
            async with session.request(method, url, json=body) as resp:
                await resp.read()
                if resp.status >= 300:
                    raise RuntimeError(f"{method} {url}: HTTP {resp.status}")
            latencies.append(time.perf_counter_ns() - started)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latency_summary(latencies), samples / (time.perf_counter() - began)


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def scenario(
    args: argparse.Namespace, base: str, key: str, dsn: str, pid: int
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    async with make_session(key, 4) as admin:
        [metric] = (
            await call(
                admin, "POST", f"{base}/admin/v1/metrics", [{"name": "Score", "key": KEY}], 201
            )
        )["created"]
        [board] = (
            await call(admin, "POST", f"{base}/admin/v1/leaderboards", [{
                "name": "Bench", "key": KEY, "rankBy": "metric", "metricId": metric["id"],
                "maxParticipants": args.users, "status": "active",
            }], 201)
        )["created"]  # fmt: skip
    conn = await asyncpg.connect(dsn)
    try:
        scope_id = await conn.fetchval("SELECT id FROM scopes WHERE tenant_id IS NULL LIMIT 1")
        print(f"  .. {args.users} participants in SQL", flush=True)
        started = time.perf_counter()
        await conn.execute(
            _SEED_SQL, scope_id, args.users, board["id"], dt.date.fromisoformat(board["start"])
        )
        await conn.execute("ANALYZE users; ANALYZE leaderboard_entries")
        seed_s = time.perf_counter() - started
        table = await conn.fetchval("SELECT pg_total_relation_size('leaderboard_entries')")
    finally:
        await conn.close()

    def user(_index: int) -> str:
        return f"lb-{rng.randint(1, args.users)}"

    results: dict[str, Any] = {"users": args.users, "seed_s": seed_s, "redis": bool(args.redis_url)}
    if args.redis_url:
        results["cache_build_s"] = await warm_cache(base, key, args.redis_url)
    async with make_session(key, args.concurrency) as session:
        app = f"{base}/v1"
        checks = {
            # No ranking at all: what the machine and HTTP cost by themselves.
            "baseline": lambda _i: ("GET", f"{app}/leaderboards", None),
            "rank": lambda i: (
                "GET", f"{app}/users/{user(i)}/leaderboards/{KEY}?numEvents=0", None,
            ),
            "top_100": lambda _i: ("GET", f"{app}/leaderboards/{KEY}?limit=100", None),
            "around_me": lambda i: (
                "GET", f"{app}/leaderboards/{KEY}?userId={user(i)}&offset=-5&limit=11", None,
            ),
            "event": lambda i: (
                "POST", f"{app}/metrics/{KEY}/event", {"user": {"id": user(i)}, "value": 1},
            ),
        }  # fmt: skip
        for name, request in checks.items():
            if name not in args.only.split(","):
                continue
            print(f"  .. {name}", flush=True)
            summary, per_s = await measure(session, args.samples, args.concurrency, request)
            results[name] = {**summary, "per_s": per_s}
    results["memory"] = {
        "server_rss_bytes": rss_bytes(pid),
        "entries_table_bytes": table,
        "redis_used_memory_bytes": await redis_memory(args.redis_url),
    }
    return results


async def warm_cache(base: str, key: str, url: str) -> float:
    """Ask for a rank (which starts the cache's rebuild) and wait until it is ready."""
    client = aioredis.from_url(url)
    started = time.perf_counter()
    try:
        async with make_session(key, 1) as session:
            await call(session, "GET", f"{base}/v1/users/lb-1/leaderboards/{KEY}?numEvents=0", None)
        while not [k async for k in client.scan_iter("plaudit:lb:*:ready")]:  # noqa: ASYNC110 - polls Redis
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()
    return time.perf_counter() - started


async def redis_memory(url: str) -> int | None:
    if not url:
        return None
    client = aioredis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def flush(url: str) -> None:
    if url:
        client = aioredis.from_url(url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()


def report(r: dict[str, Any]) -> None:
    cache = f"Redis rank cache built in {r['cache_build_s']:.1f} s" if r["redis"] else "SQL only"
    print(
        f"\n[leaderboards] one run with {r['users']} participants "
        f"(seeded in {r['seed_s']:.1f} s; {cache})"
    )
    for name in CHECKS:
        if name not in r:
            continue
        s = r[name]
        target = (
            f"events/s {s['per_s']:.0f} (target >= {EVENTS_TARGET_PER_S:.0f})"
            if name == "event"
            else f"p99 target <= {READ_TARGET_P99_MS:.0f} ms: "
            + ("MET" if s["p99_ms"] <= READ_TARGET_P99_MS else "MISSED")
        )
        print(f"  {name:<10} p50 {s['p50_ms']:8.2f} ms   p99 {s['p99_ms']:8.2f} ms   {target}")
    m = r["memory"]
    rss = m["server_rss_bytes"]
    used = m["redis_used_memory_bytes"]
    print(
        f"  memory     server RSS {rss / 1e6 if rss else float('nan'):.0f} MB; "
        f"leaderboard_entries {m['entries_table_bytes'] / 1e6:.0f} MB; "
        + (f"Redis used_memory {used / 1e6:.0f} MB" if used is not None else "Redis not used")
    )


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-leaderboards-"))
    key = random_admin_key()
    name, database_url, version = await create_postgres_database(args.pg_url)
    env = server_env(database_url, key)
    if args.redis_url:
        env["PLAUDIT_REDIS_URL"] = args.redis_url
    await flush(args.redis_url)
    port = free_port()
    server = None
    try:
        server = await spawn(
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-worker"],
            env,
            workdir,
            "server.log",
        )
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, server, workdir / "server.log")
        print(f"server {base} on {version}", flush=True)
        result = await scenario(args, base, key, _asyncpg_dsn(database_url), server.pid)
        report(result)
        out = Path(__file__).parent / "results"
        out.mkdir(exist_ok=True)
        path = out / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-leaderboards.json"
        path.write_text(json.dumps(result, indent=2, default=str))
        print(f"saved {path}")
        return 0
    except BaseException:
        print(log_tail(workdir / "server.log"), file=sys.stderr)
        raise
    finally:
        if server is not None:
            await stop_server(server)
        await drop_postgres_database(args.pg_url, name)
        await flush(args.redis_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
