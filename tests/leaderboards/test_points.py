"""Points boards at the service level: the points feature is merged later, so awards are
fed as `points.hooks.Award` objects, through the event step's input and through
`AWARD_HOOKS` (awards made outside events)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert

from plaudit.core.ids import new_id
from plaudit.leaderboards import service
from plaudit.leaderboards.tables import leaderboards
from plaudit.points import hooks
from plaudit.users import service as users
from plaudit.users.schemas import UpsertedUser
from tests.conftest import Stack
from tests.leaderboards.support import clock, move_clock
from tests.support.api import make_environment


async def test_points_awards_rank_points_boards(clock_stack: Stack) -> None:
    runtime = clock_stack.runtime
    env = await make_environment(runtime, clock_stack.http)
    await move_clock(env, "2045-05-01T12:00:00Z")
    now = await clock(env)
    system, other_system = uuid.uuid4(), uuid.uuid4()
    metric = await env.metric("xp")
    async with runtime.db.transaction() as conn:
        # Inserted directly: until the points feature exists the Admin API cannot name a
        # points system.
        await conn.execute(
            insert(leaderboards).values(
                id=new_id(), scope_id=env.scope_id, key="xp-weekly", name="XP", description=None,
                status="active", rank_by="points", metric_id=None, points_system_id=system,
                max_participants=2, start=dt.date(2045, 5, 1), end=None, start_time=None,
                end_time=None, breakdown_attributes=[], user_attributes=[], run_unit="day",
                run_interval=7, activated=True, runs_started=1, runs_finished=0, next_due=None,
                created=now, updated=now,
            )
        )  # fmt: skip
        await runtime.config.get(conn, env.scope_id)
    async with runtime.db.transaction() as conn:
        config = await runtime.config.get(conn, env.scope_id)
        people = {}
        for name in ("ann", "bob", "cy"):
            people[name] = (await users.upsert(conn, config, [UpsertedUser(id=name)], now))[
                name
            ].state
        # An event whose points outcome awarded 30 (and 5 in another system).
        [shown] = await service.after_events(
            conn,
            config,
            [
                service.Contribution(
                    people["ann"],
                    uuid.UUID(metric["id"]),
                    1_000_000,
                    now,
                    point_awards=[
                        hooks.Award(people["ann"], system, 30, now),
                        hooks.Award(people["ann"], other_system, 5, now),
                    ],
                )
            ],
            now,
        )
        assert (shown["xp-weekly"]["rank"], shown["xp-weekly"]["start"]) == (1, "2045-05-01")
        # Awards made outside events reach the board through the hook.
        for hook in hooks.AWARD_HOOKS:
            await hook(
                conn,
                config,
                [
                    hooks.Award(people["bob"], system, 40, now),
                    hooks.Award(people["cy"], system, 10, now),
                    hooks.Award(people["ann"], system, -5, now),
                    # Next week's run: counted there, not in this one.
                    hooks.Award(people["cy"], system, 99, now + dt.timedelta(days=7)),
                ],
                now,
            )
    ranked = (await env.app.get("/leaderboards/xp-weekly")).json()
    assert [(r["userId"], r["value"]) for r in ranked["rankings"]] == [("bob", 40), ("ann", 25)]
    assert ranked["rankBy"] == "points"
    later = await env.app.get("/leaderboards/xp-weekly", params={"run": "2045-05-08"})
    assert later.status_code == 422  # the next run has not begun
