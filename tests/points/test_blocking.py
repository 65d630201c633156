"""A blocked event (`blockIfOutOfPoints`) writes nothing at all: no event, no total, no
award, no outbox row, and not even the user it would have created inline."""

from __future__ import annotations

from sqlalchemy import func, select

from plaudit.events.tables import events
from plaudit.points.tables import points_awards
from plaudit.runtime import Runtime
from plaudit.users.tables import users
from plaudit.webhooks.tables import webhook_events
from tests.conftest import Stack
from tests.points.test_api import make_system
from tests.support.api import TestEnvironment
from tests.support.outbox import listen


async def _counts(runtime: Runtime, scope_id: int) -> tuple[int, int, int, int]:
    async with runtime.db.transaction(write=False) as conn:
        found = []
        for table in (events, points_awards, webhook_events, users):
            query = select(func.count()).select_from(table)
            if "scope_id" in table.c:
                query = query.where(table.c.scope_id == scope_id)
            found.append(int(await conn.scalar(query) or 0))
        return found[0], found[1], found[2], found[3]


async def test_a_blocked_event_writes_nothing(
    env: TestEnvironment, runtime: Runtime, stack: Stack
) -> None:
    await listen(stack, env)  # every type: the outbox rows are counted
    metric = await env.metric("flashcards")
    await make_system(
        env,
        key="energy",
        maxPoints=2,
        triggers=[
            {
                "type": "metric",
                "points": -1,
                "metricId": metric["id"],
                "metricThreshold": 1,
                "blockIfOutOfPoints": True,
                "status": "active",
            },
            {"type": "user_creation", "points": 1, "status": "active"},
        ],
    )
    spent = await env.event("flashcards", "eve", 1)
    assert spent.json()["points"]["energy"]["total"] == 0
    before = await _counts(runtime, env.scope_id)
    assert before[:2] == (1, 2)  # the event; the creation and the metric award
    assert before[2] > 0  # their outbox rows

    blocked = await env.event("flashcards", "eve", 1)
    assert blocked.status_code == 422
    assert blocked.json() == {"error": "Insufficient points in points system 'energy'"}
    # A new user is created with 1 point and would spend 3: the creation goes too.
    newcomer = await env.event("flashcards", "new", 3)
    assert newcomer.status_code == 422
    assert await _counts(runtime, env.scope_id) == before
    assert (await env.app.get("/users/new")).status_code == 404
    assert (await env.app.get("/users/eve/metrics/flashcards")).json()["current"] == 1
