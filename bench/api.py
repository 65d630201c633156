"""The few Plaudit API calls the benchmark needs besides the load itself.

Setup goes through the batch endpoint because it is by far the cheapest way to create
10,000 users (ten requests instead of ten thousand); totals are read back one user at a
time through the Application API, the way a client would see them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Sequence

import aiohttp

from bench.load import make_session

MAX_BATCH = 1000


class BenchError(RuntimeError):
    """The server answered something the benchmark cannot go on with."""


def user_ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


async def create_metric(session: aiohttp.ClientSession, base_url: str, name: str, key: str) -> None:
    body = [{"name": name, "key": key}]
    async with session.post(f"{base_url}/admin/v1/metrics", json=body) as resp:
        payload = await resp.text()
        if resp.status != 201:
            raise BenchError(f"creating metric {key!r}: HTTP {resp.status} {payload[:300]}")


def batch_body(items: Iterable[dict[str, object]]) -> bytes:
    return json.dumps(list(items), separators=(",", ":")).encode()


async def post_batch(session: aiohttp.ClientSession, base_url: str, body: bytes) -> int:
    async with session.post(f"{base_url}/admin/v1/metrics/events", data=body) as resp:
        payload = await resp.text()
        if resp.status != 202:
            raise BenchError(f"batch events: HTTP {resp.status} {payload[:300]}")
        return int(json.loads(payload)["accepted"])


async def user_exists(session: aiohttp.ClientSession, base_url: str, user_id: str) -> bool:
    async with session.get(f"{base_url}/v1/users/{user_id}") as resp:
        await resp.read()
        if resp.status == 404:
            return False
        if resp.status != 200:
            raise BenchError(f"GET user {user_id}: HTTP {resp.status}")
        return True


async def create_users(
    base_url: str,
    api_key: str,
    ids: Sequence[str],
    metric_key: str,
    tz: str,
    timeout_s: float,
) -> float:
    """Create the users through batches of value-0 events; returns the seconds it took.

    A batch is processed in one transaction, so once the last user of every batch exists,
    all of them do.
    """
    started = time.perf_counter()
    chunks = [list(ids[i : i + MAX_BATCH]) for i in range(0, len(ids), MAX_BATCH)]
    async with make_session(api_key, 8) as session:
        sem = asyncio.Semaphore(4)

        async def send(chunk: list[str]) -> None:
            items = ({"key": metric_key, "user": {"id": u, "tz": tz}, "value": 0} for u in chunk)
            async with sem:
                await post_batch(session, base_url, batch_body(items))

        await asyncio.gather(*(send(chunk) for chunk in chunks))
        waiting = [chunk[-1] for chunk in chunks]
        deadline = time.perf_counter() + timeout_s
        while waiting:
            found = await asyncio.gather(*(user_exists(session, base_url, u) for u in waiting))
            waiting = [u for u, ok in zip(waiting, found, strict=True) if not ok]
            if not waiting:
                break
            if time.perf_counter() > deadline:
                raise BenchError(
                    f"{len(waiting)} setup batches not processed after {timeout_s:.0f} s "
                    f"(e.g. user {waiting[0]} does not exist)"
                )
            await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def metric_total(
    session: aiohttp.ClientSession, base_url: str, user_id: str, metric_key: str
) -> float:
    """`current` of `GET /v1/users/{id}/metrics/{key}`."""
    async with session.get(f"{base_url}/v1/users/{user_id}/metrics/{metric_key}") as resp:
        payload = await resp.read()
        if resp.status != 200:
            raise BenchError(
                f"GET total of {user_id}/{metric_key}: HTTP {resp.status} "
                f"{payload.decode(errors='replace')[:300]}"
            )
        return float(json.loads(payload)["current"])


async def metric_totals(
    session: aiohttp.ClientSession,
    base_url: str,
    ids: Sequence[str],
    metric_key: str,
    concurrency: int = 32,
) -> dict[str, float]:
    """Every listed user's total, `concurrency` requests at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def one(user_id: str) -> float:
        async with sem:
            return await metric_total(session, base_url, user_id, metric_key)

    values = await asyncio.gather(*(one(u) for u in ids))
    return dict(zip(ids, values, strict=True))
