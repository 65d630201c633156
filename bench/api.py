"""The few Plaudit API calls the benchmark needs besides the load itself.

Setup goes through the batch endpoint because it is by far the cheapest way to create
10,000 users (ten requests instead of ten thousand); totals are read back one user at a
time through the Application API, the way a client would see them. The achievements
scenarios define achievements through the Admin API and read their completion counts from
`GET /v1/achievements`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import aiohttp

from bench.load import make_session

MAX_BATCH = 1000
USER_TZ = "Europe/London"  # every user the benchmark creates lives here


class BenchError(RuntimeError):
    """The server answered something the benchmark cannot go on with."""


def user_ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


async def create_metric(session: aiohttp.ClientSession, base_url: str, name: str, key: str) -> str:
    """Create one metric; returns its id (the Admin API names metrics by id)."""
    body = [{"name": name, "key": key}]
    async with session.post(f"{base_url}/admin/v1/metrics", json=body) as resp:
        payload = await resp.text()
        if resp.status != 201:
            raise BenchError(f"creating metric {key!r}: HTTP {resp.status} {payload[:300]}")
        return str(json.loads(payload)["created"][0]["id"])


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


Done = Callable[[aiohttp.ClientSession, str], Awaitable[bool]]


async def _send_and_wait(
    base_url: str,
    api_key: str,
    metric_key: str,
    tz: str,
    values: Sequence[tuple[str, int]],
    done: Done,
    timeout_s: float,
) -> float:
    """Send (user, value) events in batches of 1,000, 4 requests at a time, then wait until
    `done` holds for the last user of every batch; returns the seconds it took.

    A batch is processed in one transaction, so its last user says it all. The batches are
    processed roughly in the order they were sent, so only the first few unfinished ones
    are polled: polling all of 100 batches every 0.2 s would slow the processing down.
    """
    started = time.perf_counter()
    chunks = [list(values[i : i + MAX_BATCH]) for i in range(0, len(values), MAX_BATCH)]
    async with make_session(api_key, 8) as session:
        sem = asyncio.Semaphore(4)

        async def send(chunk: list[tuple[str, int]]) -> None:
            items = ({"key": metric_key, "user": {"id": u, "tz": tz}, "value": v} for u, v in chunk)
            async with sem:
                await post_batch(session, base_url, batch_body(items))

        await asyncio.gather(*(send(chunk) for chunk in chunks))
        waiting = [chunk[-1][0] for chunk in chunks]
        deadline = time.perf_counter() + timeout_s
        while waiting:
            polled = waiting[:8]
            found = await asyncio.gather(*(done(session, u) for u in polled))
            finished = {u for u, ok in zip(polled, found, strict=True) if ok}
            waiting = [u for u in waiting if u not in finished]
            if not waiting:
                break
            if time.perf_counter() > deadline:
                raise BenchError(
                    f"{len(waiting)} of {len(chunks)} setup batches not processed after "
                    f"{timeout_s:.0f} s (e.g. the one with user {waiting[0]})"
                )
            if not finished:
                await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def create_users(
    base_url: str,
    api_key: str,
    ids: Sequence[str],
    metric_key: str,
    tz: str,
    timeout_s: float,
) -> float:
    """Create the users through batches of value-0 events; returns the seconds it took."""

    async def exists(session: aiohttp.ClientSession, user_id: str) -> bool:
        return await user_exists(session, base_url, user_id)

    values = [(u, 0) for u in ids]
    return await _send_and_wait(base_url, api_key, metric_key, tz, values, exists, timeout_s)


async def add_to_totals(
    base_url: str,
    api_key: str,
    values: Sequence[tuple[str, int]],
    metric_key: str,
    tz: str,
    timeout_s: float,
) -> float:
    """One event per (user, value) on a metric none of them has a total on yet (users are
    created as needed); returns the seconds until every event was counted.

    Waits for the totals rather than for the users, which may exist already: the last user
    of a batch has reached its value exactly when the batch was processed.
    """
    expected = dict(values)

    async def counted(session: aiohttp.ClientSession, user_id: str) -> bool:
        current = await metric_total_or_none(session, base_url, user_id, metric_key)
        return current is not None and current >= expected[user_id]

    return await _send_and_wait(base_url, api_key, metric_key, tz, values, counted, timeout_s)


async def metric_total_or_none(
    session: aiohttp.ClientSession, base_url: str, user_id: str, metric_key: str
) -> float | None:
    """`current` of `GET /v1/users/{id}/metrics/{key}`, None while the user does not exist."""
    async with session.get(f"{base_url}/v1/users/{user_id}/metrics/{metric_key}") as resp:
        payload = await resp.read()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise BenchError(
                f"GET total of {user_id}/{metric_key}: HTTP {resp.status} "
                f"{payload.decode(errors='replace')[:300]}"
            )
        return float(json.loads(payload)["current"])


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


# --- achievements ----------------------------------------------------------------------------


async def create_achievements(
    session: aiohttp.ClientSession, base_url: str, items: Sequence[dict[str, object]]
) -> list[str]:
    """`POST /admin/v1/achievements` (at most 100 items); returns the ids in item order.

    Any issue is an error here: the benchmark's definitions are meant to be valid."""
    async with session.post(f"{base_url}/admin/v1/achievements", json=list(items)) as resp:
        payload = await resp.text()
        if resp.status != 201:
            raise BenchError(f"creating achievements: HTTP {resp.status} {payload[:300]}")
    body = json.loads(payload)
    if body["issues"] or len(body["created"]) != len(items):
        raise BenchError(f"creating achievements: {len(body['created'])} created, {body['issues']}")
    return [str(item["id"]) for item in body["created"]]


async def update_achievements(
    session: aiohttp.ClientSession, base_url: str, items: Sequence[dict[str, object]]
) -> None:
    """`PATCH /admin/v1/achievements`; any issue is an error."""
    async with session.patch(f"{base_url}/admin/v1/achievements", json=list(items)) as resp:
        payload = await resp.text()
        if resp.status != 200:
            raise BenchError(f"updating achievements: HTTP {resp.status} {payload[:300]}")
    body = json.loads(payload)
    if body["issues"] or len(body["updated"]) != len(items):
        raise BenchError(f"updating achievements: {len(body['updated'])} updated, {body['issues']}")


async def archive_achievements(
    session: aiohttp.ClientSession, base_url: str, ids: Sequence[str]
) -> None:
    """`DELETE /admin/v1/achievements?ids=...` (archives them; completions stay)."""
    url = f"{base_url}/admin/v1/achievements"
    async with session.delete(url, params={"ids": ",".join(ids)}) as resp:
        payload = await resp.text()
        if resp.status != 200:
            raise BenchError(f"archiving achievements: HTTP {resp.status} {payload[:300]}")


async def achievement_completions(session: aiohttp.ClientSession, base_url: str) -> dict[str, int]:
    """`completions` of every live achievement, by id (`GET /v1/achievements`)."""
    async with session.get(f"{base_url}/v1/achievements") as resp:
        payload = await resp.read()
        if resp.status != 200:
            raise BenchError(
                f"GET /v1/achievements: HTTP {resp.status} {payload.decode(errors='replace')[:300]}"
            )
    return {str(item["id"]): int(item["completions"]) for item in json.loads(payload)}
