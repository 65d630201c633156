"""The hooks the points feature registers with streaks and achievements: outside the event
pipeline they award at once (and hand the awards to `hooks.AWARD_HOOKS`); inside it they
leave the awards to the pipeline's points step, which puts them in the event response."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.platform.config import ScopeConfig
from plaudit.points import hooks
from plaudit.points import service as points_service
from plaudit.streaks import service as streaks
from plaudit.users import service as users
from tests.conftest import Stack
from tests.points.test_api import make_system
from tests.support.api import make_environment


async def test_streak_extensions_outside_the_pipeline_award_at_once(stack: Stack) -> None:
    env = await make_environment(stack.runtime, stack.http)
    await make_system(
        env, triggers=[{"type": "streak", "points": 9, "streakLength": 2, "status": "active"}]
    )
    assert (await env.app.post("/users", json={"id": "hk"})).status_code == 201
    seen: list[hooks.Award] = []

    async def record(
        _c: AsyncConnection, _s: ScopeConfig, awards: Sequence[hooks.Award], _n: dt.datetime
    ) -> None:
        seen.extend(awards)

    hooks.AWARD_HOOKS.append(record)
    try:
        runtime = stack.runtime
        async with runtime.db.transaction() as conn:
            config = await runtime.config.get(conn, env.scope_id)
            user = (await users.lock(conn, env.scope_id, ["hk"]))["hk"]
            now = await runtime.clock.now(conn)
            for length in (3, 4):
                for hook in streaks.EXTENSION_HOOKS:
                    await hook(conn, config, user, length, now)
            with points_service.collecting(conn):
                for hook in streaks.EXTENSION_HOOKS:
                    await hook(conn, config, user, 6, now)
    finally:
        hooks.AWARD_HOOKS.remove(record)
    assert [(a.user.id, a.awarded) for a in seen] == [("hk", 9)]
    assert (await env.app.get("/users/hk/points/xp")).json()["total"] == 9
