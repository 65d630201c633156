"""The Redis rank cache: the same property as test_ranking_property with ranks, pages and
event answers served from sorted sets, and a cache rebuilt from the database after loss."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from plaudit.leaderboards import redis_ranks, routes
from tests.conftest import Stack
from tests.leaderboards.support import board, move_clock, patch
from tests.leaderboards.test_ranking_property import Step, check_ranks, steps
from tests.support.api import make_environment
from tests.support.services import REDIS_URL, redis_reachable

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module", autouse=True)
async def redis_configured() -> AsyncIterator[None]:
    problem = await redis_reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {problem}")
        pytest.skip(f"Redis not reachable: {problem}")
    redis_ranks.configure(REDIS_URL)
    deep_page = routes.DEEP_PAGE
    routes.DEEP_PAGE = 0  # every page from the sorted sets, not only deep ones
    try:
        yield
    finally:
        routes.DEEP_PAGE = deep_page
        client = redis_ranks.client()
        assert client is not None
        async for key in client.scan_iter("plaudit:lb:*"):
            await client.delete(key)
        await client.aclose()
        redis_ranks.configure(None)


@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=steps, limit=st.integers(min_value=1, max_value=5))
async def test_ranks_from_redis_equal_a_sort_of_the_values(
    clock_stack: Stack, events: list[Step], limit: int
) -> None:
    await check_ranks(clock_stack, events, limit)


async def test_a_lost_cache_is_rebuilt_from_the_database(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2050-01-01T00:00:00Z")
    metric = await env.metric("words")
    created = await board(env, metricId=metric["id"], maxParticipants=2)
    await patch(env, id=created["id"], status="active")
    for user, value in (("a", 3), ("b", 5), ("c", 4)):
        await env.event("words", user, value)
    client = redis_ranks.client()
    assert client is not None
    async for key in client.scan_iter(f"plaudit:lb:{created['id']}:*"):
        await client.delete(key)
    page = (await env.app.get("/leaderboards/board")).json()["rankings"]
    assert [(r["userId"], r["rank"]) for r in page] == [("b", 1), ("c", 2)]
    assert [key async for key in client.scan_iter(f"plaudit:lb:{created['id']}:*:ready")]
    # a reaches 5 at the same instant as b did (the clock stands still): a's id comes first.
    answer = (await env.event("words", "a", 2)).json()["leaderboards"]["board"]
    assert (answer["rank"], answer["previousRank"], answer["threshold"]) == (1, None, 5)
    mine = (await env.app.get("/users/b/leaderboards/board")).json()
    assert mine["rank"] == 2


async def test_an_idle_slot_expires_and_is_rebuilt_by_its_next_reader(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2051-01-01T00:00:00Z")
    metric = await env.metric("pages")
    created = await board(env, metricId=metric["id"], maxParticipants=5)
    await patch(env, id=created["id"], status="active")
    client = redis_ranks.client()
    assert client is not None
    idle, margin = redis_ranks.IDLE_SECONDS, redis_ranks.READY_MARGIN_SECONDS
    redis_ranks.IDLE_SECONDS, redis_ranks.READY_MARGIN_SECONDS = 1, 1
    try:
        for user, value in (("a", 3), ("b", 5)):
            await env.event("pages", user, value)
        await env.app.get("/leaderboards/board")  # builds the slot
        keys = [key async for key in client.scan_iter(f"plaudit:lb:{created['id']}:*")]
        ttls = {key.decode().rsplit(":", 1)[-1]: await client.ttl(key) for key in keys}
        # The set and its hash outlive `:ready`; `:fresh` keeps its own hour.
        assert all(ttl > 0 for ttl in ttls.values()), ttls
        ready = await client.pttl(f"plaudit:lb:{created['id']}:{_run_and_group(keys)}:ready")
        zset = await client.pttl(f"plaudit:lb:{created['id']}:{_run_and_group(keys)}")
        assert 0 < ready <= 1000 < zset <= 2000
        await asyncio.sleep(2.2)
        assert not [key async for key in client.scan_iter(f"plaudit:lb:{created['id']}:*")
                    if not key.endswith(b":fresh")]  # fmt: skip
    finally:
        redis_ranks.IDLE_SECONDS, redis_ranks.READY_MARGIN_SECONDS = idle, margin
    # The next reader rebuilds it from the database, and it answers as before.
    page = (await env.app.get("/leaderboards/board")).json()["rankings"]
    assert [(r["userId"], r["rank"]) for r in page] == [("b", 1), ("a", 2)]
    assert [key async for key in client.scan_iter(f"plaudit:lb:{created['id']}:*:ready")]
    assert (await env.app.get("/users/a/leaderboards/board")).json()["rank"] == 2


def _run_and_group(keys: list[bytes]) -> str:
    """`<run>:<group>` of the slot's keys (`plaudit:lb:<board>:<run>:<group>[:suffix]`)."""
    [found] = {":".join(key.decode().split(":")[3:5]) for key in keys}
    return found


async def test_an_unreachable_redis_leaves_the_database_to_answer(clock_stack: Stack) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    await move_clock(env, "2051-01-01T00:00:00Z")
    metric = await env.metric("words")
    created = await board(env, metricId=metric["id"])
    await patch(env, id=created["id"], status="active")
    redis_ranks.configure("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        answer = (await env.event("words", "ann", 2)).json()["leaderboards"]["board"]
        assert answer["rank"] == 1
        page = (await env.app.get("/leaderboards/board", params={"userId": "ann"})).json()
        assert [r["userId"] for r in page["rankings"]] == ["ann"]
        assert (await env.app.get("/users/ann/leaderboards/board")).json()["rank"] == 1
    finally:
        redis_ranks.configure(REDIS_URL)
