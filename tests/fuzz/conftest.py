"""One seeded `World` per live server (per backend), put back before each fuzz test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fuzz.world import World
from tests.support.server import LiveServer


@pytest.fixture(scope="session")
def _fuzz_worlds() -> Iterator[dict[str, World]]:
    worlds: dict[str, World] = {}
    yield worlds
    for world in worlds.values():
        world.close()


@pytest.fixture
def world(live: LiveServer, _fuzz_worlds: dict[str, World]) -> World:
    found = _fuzz_worlds.get(live.base_url)
    if found is None:
        # No keep-alive: the server drops idle connections while a long test fuzzes.
        client = httpx.Client(
            base_url=live.base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
        )
        found = World(live, client)
        found.create_tenants()
        _fuzz_worlds[live.base_url] = found
    found.refresh()
    return found
