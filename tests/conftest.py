"""Fixtures: each backend (SQLite, PostgreSQL) gets a freshly migrated database and an app
per test session; each test gets an environment of its own on it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from plaudit.api import create_app
from plaudit.core import migrate
from plaudit.core.db import Database
from plaudit.core.settings import Settings
from plaudit.runtime import Runtime
from tests.support.api import TestEnvironment, make_environment
from tests.support.outbox import LISTENER_URL, sink
from tests.support.server import LiveServer, live_server
from tests.support.services import create_postgres_database, drop_postgres_database

os.environ.setdefault("PLAUDIT_LOG_LEVEL", "warning")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


async def fresh_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'plaudit.db'}"
    else:
        url = await create_postgres_database()
    db = Database(Settings(database_url=url))
    try:
        await migrate.upgrade(db.write_engine, url)
    finally:
        await db.dispose()
    return url


def test_settings(url: str, **overrides: object) -> Settings:
    return Settings(database_url=url, access_log=False, log_level="warning", **overrides)  # type: ignore[arg-type]


@dataclass
class Stack:
    """One backend: its database, the app serving it, and an in-process client."""

    backend: str
    database_url: str
    app: FastAPI
    runtime: Runtime
    http: httpx.AsyncClient
    # Where tests/support/outbox.listen points its webhooks (see there).
    listener_url: str = LISTENER_URL


# A stop takes at most the worker's grace (30 s per loop); past this, something hangs.
STOP_REPORT_SECONDS = 90.0


def report_tasks(why: str) -> None:
    """Prints where every asyncio task is waiting: a hang in an event loop shows nothing
    in the thread dumps of the test timeout."""
    print(f"\n=== {why}: asyncio tasks ===", file=sys.stderr)
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


@asynccontextmanager
async def running_stack(backend: str, folder: Path, **overrides: object) -> AsyncIterator[Stack]:
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test folder, instant)
    url = await fresh_database(backend, folder)
    application = create_app(test_settings(url, **overrides))
    watchdog: asyncio.TimerHandle | None = None
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://plaudit.test", timeout=60
            ) as http:
                yield Stack(backend, url, application, application.state.runtime, http)
            watchdog = asyncio.get_running_loop().call_later(
                STOP_REPORT_SECONDS, report_tasks, f"{backend} stack still stopping"
            )
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if backend == "postgres":
            await drop_postgres_database(url)


@pytest.fixture(scope="session")
async def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack("sqlite", tmp_path_factory.mktemp("sqlite")) as stack:
        yield stack


@pytest.fixture(scope="session")
async def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack("postgres", tmp_path_factory.mktemp("postgres")) as stack:
        yield stack


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest) -> Stack:
    """The test runs once per backend."""
    found: Stack = request.getfixturevalue(f"{request.param}_stack")
    return found


# Module-scoped: the clock only moves forward, so each test file gets a clock of its own.
@pytest.fixture(scope="session")
async def webhook_sink() -> AsyncIterator[str]:
    """The URL of a receiver that accepts every delivery (test-clock stacks' listener)."""
    async with sink() as url:
        yield url


# Test-clock stacks deliver to `webhook_sink` (on 127.0.0.1): see tests/support/outbox.py.
CLOCK_SETTINGS: dict[str, object] = {"test_clock": True, "webhook_allow_private": True}


@pytest.fixture(scope="module")
async def sqlite_clock_stack(
    tmp_path_factory: pytest.TempPathFactory, webhook_sink: str
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("sqlite-clock")
    async with running_stack("sqlite", folder, **CLOCK_SETTINGS) as stack:
        stack.listener_url = webhook_sink
        yield stack


@pytest.fixture(scope="module")
async def postgres_clock_stack(
    tmp_path_factory: pytest.TempPathFactory, webhook_sink: str
) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("postgres-clock")
    async with running_stack("postgres", folder, **CLOCK_SETTINGS) as stack:
        stack.listener_url = webhook_sink
        yield stack


@pytest.fixture(params=BACKENDS)
def clock_stack(request: pytest.FixtureRequest) -> Stack:
    """A server whose time only moves through PUT /admin/v1/test-clock."""
    found: Stack = request.getfixturevalue(f"{request.param}_clock_stack")
    return found


@pytest.fixture
async def clock_env(clock_stack: Stack) -> TestEnvironment:
    return await make_environment(clock_stack.runtime, clock_stack.http)


@pytest.fixture
def backend(stack: Stack) -> str:
    return stack.backend


@pytest.fixture
def runtime(stack: Stack) -> Runtime:
    return stack.runtime


@pytest.fixture
async def env(stack: Stack) -> TestEnvironment:
    return await make_environment(stack.runtime, stack.http)


@pytest.fixture(scope="session")
async def sqlite_live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("sqlite-live")
    url = await fresh_database("sqlite", folder)
    with live_server(url, folder) as server:
        yield server


@pytest.fixture(scope="session")
async def postgres_live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("postgres-live")
    url = await fresh_database("postgres", folder)
    try:
        with live_server(url, folder) as server:
            yield server
    finally:
        await drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest) -> LiveServer:
    """A real server process on each backend (admin key: `live.admin_key`)."""
    found: LiveServer = request.getfixturevalue(f"{request.param}_live")
    return found
