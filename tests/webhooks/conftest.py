"""Stacks for webhook tests: receivers on 127.0.0.1 are allowed, attempts time out fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import BACKENDS, Stack, running_stack
from tests.support.api import TestEnvironment, make_environment

HOOK_SETTINGS: dict[str, Any] = {
    "webhook_allow_private": True,
    "webhook_timeout_seconds": 2.0,
    "worker_poll_seconds": 0.05,
}


@pytest.fixture(scope="module")
async def sqlite_hook_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack("sqlite", tmp_path_factory.mktemp("hooks"), **HOOK_SETTINGS) as s:
        yield s


@pytest.fixture(scope="module")
async def postgres_hook_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack("postgres", tmp_path_factory.mktemp("hooks"), **HOOK_SETTINGS) as s:
        yield s


@pytest.fixture(params=BACKENDS)
def hook_stack(request: pytest.FixtureRequest) -> Stack:
    """A real-time server with its embedded worker delivering webhooks."""
    found: Stack = request.getfixturevalue(f"{request.param}_hook_stack")
    return found


@pytest.fixture
async def hook_env(hook_stack: Stack) -> TestEnvironment:
    return await make_environment(hook_stack.runtime, hook_stack.http)


@pytest.fixture(scope="module")
async def sqlite_hook_clock_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("hooks-clock")
    async with running_stack("sqlite", folder, test_clock=True, **HOOK_SETTINGS) as s:
        yield s


@pytest.fixture(scope="module")
async def postgres_hook_clock_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("hooks-clock")
    async with running_stack("postgres", folder, test_clock=True, **HOOK_SETTINGS) as s:
        yield s


@pytest.fixture(params=BACKENDS)
def hook_clock_stack(request: pytest.FixtureRequest) -> Stack:
    """A test-clock server: retries and throttled deliveries run as the clock moves."""
    found: Stack = request.getfixturevalue(f"{request.param}_hook_clock_stack")
    return found


@pytest.fixture
async def hook_clock_env(hook_clock_stack: Stack) -> TestEnvironment:
    return await make_environment(hook_clock_stack.runtime, hook_clock_stack.http)


async def subscribe(env: TestEnvironment, url: str, **fields: Any) -> dict[str, Any]:
    response = await env.admin.post("/webhooks", json=[{"url": url, **fields}])
    assert response.status_code == 201, response.json()
    created: dict[str, Any] = response.json()["created"][0]
    return created


async def deliveries(env: TestEnvironment, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await env.admin.get(
        f"/webhooks/{webhook_id}/deliveries", params={"limit": 100, **params}
    )
    assert response.status_code == 200, response.json()
    found: list[dict[str, Any]] = response.json()
    return found


async def settled(
    env: TestEnvironment, webhook_id: str, count: int, status: str = "succeeded"
) -> list[dict[str, Any]]:
    """Poll (up to 10 s) until `count` deliveries of the webhook have `status`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        found = await deliveries(env, webhook_id, status=status)
        if len(found) >= count:
            return found
        if loop.time() > deadline:
            pytest.fail(f"{len(found)} of {count} deliveries are {status}")
        await asyncio.sleep(0.05)
