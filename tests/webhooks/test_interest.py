"""The outbox stores only the event types the environment's active webhooks want.

Each test sends events that award points and start a streak (so `points.changed` and
`streak.started` happen every time) and reads the scope's outbox rows directly.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from plaudit.webhooks.tables import webhook_events
from tests.conftest import Stack
from tests.points.test_api import make_system
from tests.streaks.support import configure
from tests.support.api import TestEnvironment
from tests.support.outbox import listen


async def outbox_types(stack: Stack, scope_id: int) -> Counter[str]:
    async with stack.runtime.db.transaction(write=False) as conn:
        rows = await conn.execute(
            select(webhook_events.c.type).where(webhook_events.c.scope_id == scope_id)
        )
        return Counter(row.type for row in rows)


async def gamified(env: TestEnvironment) -> None:
    """A metric that awards 10 points per event and counts towards a daily streak."""
    metric = await env.metric("lessons")
    await make_system(
        env,
        key="xp",
        triggers=[
            {
                "type": "metric",
                "points": 10,
                "metricId": metric["id"],
                "metricThreshold": 1,
                "status": "active",
            }
        ],
    )
    await configure(env, metrics=[{"key": "lessons", "threshold": 1}])


async def happen(env: TestEnvironment, user: str) -> None:
    """An event of a new user: 10 points and a streak started, as the response shows."""
    response = await env.event("lessons", user, 1)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["points"]["xp"]["total"] == 10
    assert body["points"]["xp"]["added"] == 10
    assert body["currentStreak"]["length"] == 1


async def test_without_a_webhook_an_event_stores_no_outbox_row(
    env: TestEnvironment, stack: Stack
) -> None:
    await gamified(env)
    await happen(env, "ada")
    assert await outbox_types(stack, env.scope_id) == Counter()


async def test_only_the_subscribed_type_is_stored(env: TestEnvironment, stack: Stack) -> None:
    await gamified(env)
    await happen(env, "before")  # not stored: nobody listened yet
    await listen(stack, env, "points.changed")
    await happen(env, "ada")
    await happen(env, "bob")
    assert await outbox_types(stack, env.scope_id) == Counter({"points.changed": 2})


@pytest.mark.parametrize("how", ["delete", "deactivate"])
async def test_rows_stop_once_the_webhook_is_deleted_or_deactivated(
    env: TestEnvironment, stack: Stack, how: str
) -> None:
    await gamified(env)
    other = await listen(stack, env, "points.changed")
    webhook = await listen(stack, env, "streak.started")
    await happen(env, "ada")
    expected = Counter({"points.changed": 1, "streak.started": 1})
    assert await outbox_types(stack, env.scope_id) == expected
    if how == "delete":
        response = await env.admin.delete("/webhooks", params={"ids": webhook["id"]})
        assert [d["id"] for d in response.json()["deleted"]] == [webhook["id"]]
    else:
        response = await env.admin.patch(
            "/webhooks", json=[{"id": webhook["id"], "status": "inactive"}]
        )
        assert response.json()["updated"][0]["status"] == "inactive"
    await happen(env, "bob")
    expected["points.changed"] += 1  # the other webhook still wants these
    assert await outbox_types(stack, env.scope_id) == expected
    # Reactivating (or creating again) brings the type back, from the next event on.
    if how == "delete":
        await listen(stack, env, "streak.started")
    else:
        response = await env.admin.patch(
            "/webhooks", json=[{"id": webhook["id"], "status": "active"}]
        )
        assert response.json()["updated"][0]["status"] == "active"
    await happen(env, "cy")
    expected.update({"points.changed": 1, "streak.started": 1})
    assert await outbox_types(stack, env.scope_id) == expected
    # With no active webhook at all, nothing is stored.
    ids = ",".join(
        w["id"] for w in (await env.admin.get("/webhooks", params={"limit": 100})).json()
    )
    assert other["id"] in ids
    await env.admin.delete("/webhooks", params={"ids": ids})
    await happen(env, "dee")
    assert await outbox_types(stack, env.scope_id) == expected


async def test_changing_the_events_of_a_webhook_changes_what_is_stored(
    env: TestEnvironment, stack: Stack
) -> None:
    await gamified(env)
    webhook = await listen(stack, env, "points.changed")
    await happen(env, "ada")
    response = await env.admin.patch(
        "/webhooks", json=[{"id": webhook["id"], "events": ["streak.started"]}]
    )
    assert response.json()["updated"][0]["events"] == ["streak.started"]
    await happen(env, "bob")
    assert await outbox_types(stack, env.scope_id) == Counter(
        {"points.changed": 1, "streak.started": 1}
    )


async def test_a_webhook_with_empty_events_gets_every_type(
    env: TestEnvironment, stack: Stack
) -> None:
    await gamified(env)
    webhook = await listen(stack, env)
    assert webhook["events"] == []
    await happen(env, "ada")
    await happen(env, "bob")
    assert await outbox_types(stack, env.scope_id) == Counter(
        {"points.changed": 2, "streak.started": 2}
    )
