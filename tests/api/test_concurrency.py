"""Parallel events for one user never lose an increment, and a key counts exactly once.

Run in-process (one server process, many concurrent transactions) and against a real
server with two worker processes sharing the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, fresh_database
from tests.support.api import TestEnvironment
from tests.support.server import LiveServer, live_server
from tests.support.services import drop_postgres_database

VALUES = [round(0.25 + i * 1.5, 2) for i in range(64)]  # decimals, all different


async def test_64_parallel_events_for_one_user_sum_exactly(env: TestEnvironment) -> None:
    await env.metric("lessons")
    responses = await asyncio.gather(*(env.event("lessons", "ada", v) for v in VALUES))
    assert all(r.status_code == 201 for r in responses)
    final = (await env.app.get("/users/ada/metrics/lessons")).json()["current"]
    assert final == pytest.approx(sum(VALUES), abs=1e-9)
    assert final == float(round(sum(VALUES), 6))
    # Every response saw a distinct running total: the events were applied one by one.
    assert len({r.json()["total"] for r in responses}) == len(VALUES)
    assert max(r.json()["total"] for r in responses) == final


async def test_20_parallel_requests_with_one_key_count_once(env: TestEnvironment) -> None:
    await env.metric("lessons")
    headers = {"Idempotency-Key": "the-one"}
    responses = await asyncio.gather(
        *(env.event("lessons", "ada", 3, headers=headers) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [202] * 19
    assert len({r.json()["eventId"] for r in responses}) == 1
    assert (await env.app.get("/users/ada/metrics/lessons")).json()["current"] == 3


async def test_parallel_first_events_create_the_user_once(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.attribute("plan")
    users = [{"id": "new", "attributes": {"plan": f"p{i}"}} for i in range(16)]
    responses = await asyncio.gather(*(env.event("lessons", u, 1) for u in users))
    assert all(r.status_code == 201 for r in responses)
    assert (await env.app.get("/users/new/metrics/lessons")).json()["current"] == 16


@pytest.fixture(params=BACKENDS)
async def two_process_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[LiveServer]:
    url = await fresh_database(request.param, tmp_path)
    try:
        with live_server(url, tmp_path, workers="2") as server:
            yield server
    finally:
        if request.param == "postgres":
            await drop_postgres_database(url)


async def test_parallel_events_across_two_server_processes(two_process_server: LiveServer) -> None:
    server = two_process_server
    headers = {"X-API-KEY": server.admin_key}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        metric = f"m{uuid.uuid4().hex[:8]}"
        created = await client.post(
            f"{server.admin_url}/metrics", json=[{"name": "M", "key": metric}]
        )
        assert created.status_code == 201

        async def send(value: float, key: str | None = None) -> httpx.Response:
            extra = {"Idempotency-Key": key} if key else {}
            return await client.post(
                f"{server.app_url}/metrics/{metric}/event",
                json={"user": {"id": "ada"}, "value": value},
                headers=extra,
            )

        sums = await asyncio.gather(*(send(v) for v in VALUES))
        assert [r.status_code for r in sums] == [201] * len(VALUES)
        replays = await asyncio.gather(*(send(100, "same-key") for _ in range(20)))
        assert sorted(r.status_code for r in replays) == [201] + [202] * 19
        final = (await client.get(f"{server.app_url}/users/ada/metrics/{metric}")).json()["current"]
    assert final == float(round(sum(VALUES) + 100, 6))
