"""A stop lets the background cache rebuilds end before the database goes away."""

from __future__ import annotations

import asyncio

from plaudit.leaderboards import redis_ranks


async def test_drain_waits_for_rebuilds_and_cancels_those_past_the_grace() -> None:
    finished = asyncio.Event()
    cancelled = asyncio.Event()

    async def quick() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    redis_ranks.in_background(quick())
    redis_ranks.in_background(stuck())
    await redis_ranks.drain(grace=0.5)
    assert finished.is_set()
    assert cancelled.is_set()
    assert not redis_ranks._state.tasks
