"""Subscribing a test environment, so that the outbox stores the webhooks it reads.

Events of types no active subscription wants are not stored at all: a test that reads
`webhook_events` rows subscribes to their types first (before the events happen).

The subscription's URL is the stack's `listener_url`. On real-time stacks it never
resolves (the tests read the outbox, not deliveries; a webhook is disabled only after 24 h
of failures). On test-clock stacks, whose tests move days ahead, a failing webhook would
be disabled, and its types no longer stored: there it is `sink`, a receiver on 127.0.0.1
that accepts everything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.api import TestEnvironment

if TYPE_CHECKING:
    from tests.conftest import Stack

# Never reached (`.invalid` does not resolve).
LISTENER_URL = "https://example.invalid/hook"


async def listen(stack: Stack, env: TestEnvironment, *types: str) -> dict[str, Any]:
    """An active subscription of `env` to `types` (none given: every type)."""
    response = await env.admin.post(
        "/webhooks", json=[{"url": stack.listener_url, "events": list(types)}]
    )
    assert response.status_code == 201, response.json()
    created: dict[str, Any] = response.json()["created"][0]
    return created


@asynccontextmanager
async def sink() -> AsyncIterator[str]:
    """A receiver on 127.0.0.1 answering 204 to every POST; yields its URL."""

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()
