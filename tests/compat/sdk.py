"""Small helpers for driving a live server through Trophy's official Python SDK."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from trophy import AsyncTrophyApi, TrophyApi, TrophyApiEnvironment
from trophy.core.api_error import ApiError

from tests.support.server import LiveServer

T = TypeVar("T")


def unique(prefix: str) -> str:
    """An id no other test (nor an earlier run against the same database) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def sdk_client(
    live: LiveServer, *, api_key: str | None = None, tenant: str | None = None
) -> TrophyApi:
    """The official client pointed at `live`; it sends `Tenant-ID` when `tenant` is given.

    Retries are off so that a 5xx or 409 surfaces at once instead of being retried away.
    """
    return TrophyApi(
        api_key=api_key or live.admin_key,
        environment=TrophyApiEnvironment(api=live.app_url, admin=live.admin_url),
        tenant_id=tenant,
        max_retries=0,
    )


@asynccontextmanager
async def in_process_sdk_client(app: FastAPI, api_key: str) -> AsyncIterator[AsyncTrophyApi]:
    """The official async client speaking HTTP to `app` inside this process.

    For tests that also move the test clock and read the app's database: the SDK builds
    and parses every request and response as it would over a socket, while the app's
    runtime stays at hand. Retries are off, as in `sdk_client`.
    """
    base = "http://plaudit.test"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base, timeout=60) as http:
        yield AsyncTrophyApi(
            api_key=api_key,
            environment=TrophyApiEnvironment(api=f"{base}/v1", admin=f"{base}/admin/v1"),
            httpx_client=http,
            max_retries=0,
        )


def api_error(status: int, call: Callable[[], object], typed: type[ApiError] = ApiError) -> str:
    """Run an SDK call that must fail with `status`; return the server's error message.

    `typed` is the SDK's own error class for that status where the SDK declares one for the
    endpoint (e.g. NotFoundError); other statuses surface as the base ApiError.
    """
    with pytest.raises(ApiError) as caught:
        call()
    error = caught.value
    assert error.status_code == status, f"expected {status}, got {error.status_code}: {error.body}"
    assert isinstance(error, typed), f"expected {typed.__name__}, got {type(error).__name__}"
    assert isinstance(error.body, dict), error.body
    message = error.body.get("error")
    assert isinstance(message, str), error.body
    return message


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 10) -> T:
    """Poll `read` until `done` holds for its result (asynchronous processing); return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still not done after {timeout}s: {value!r}"
        time.sleep(0.1)
