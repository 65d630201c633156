"""A real HTTP receiver for webhook tests: an aiohttp server on 127.0.0.1, a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        return orjson.loads(self.body)


# Decides the answer to one request: (status, extra headers).
Behaviour = Callable[[Received], Awaitable[tuple[int, dict[str, str]]]]


async def always_ok(_received: Received) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class Receiver:
    url: str
    behaviour: Behaviour
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def ids(self) -> set[str]:
        return {item.id for item in self.received}

    async def wait_for(self, count: int, within: float = 15) -> None:
        """Until `count` requests arrived (or fail after `within` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.received) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{len(self.received)} of {count} requests arrived")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), timeout=remaining)
            except TimeoutError:
                continue


@asynccontextmanager
async def receiver(
    behaviour: Behaviour = always_ok, path: str = "/hook"
) -> AsyncIterator[Receiver]:
    found = Receiver(url="", behaviour=behaviour)

    async def handle(request: web.Request) -> web.Response:
        item = Received(dict(request.headers.items()), await request.read())
        item.headers.update({k.lower(): v for k, v in request.headers.items()})
        found.received.append(item)
        found.arrived.set()
        status, headers = await found.behaviour(item)
        return web.Response(status=status, headers=headers, text="ok")

    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield found
    finally:
        await runner.cleanup()
