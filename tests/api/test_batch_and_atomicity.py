"""Batch events (`POST /admin/v1/metrics/events`) and "a failed request writes nothing"."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from plaudit.events.tables import events
from plaudit.jobs.tables import jobs
from plaudit.metrics.tables import metric_totals
from plaudit.runtime import Runtime
from plaudit.users.tables import users
from tests.support.api import TestEnvironment


async def _counts(runtime: Runtime, scope_id: int) -> tuple[int, int, int, int]:
    async with runtime.db.transaction(write=False) as conn:
        return (
            await conn.scalar(
                select(func.count()).select_from(users).where(users.c.scope_id == scope_id)
            ),
            await conn.scalar(
                select(func.count()).select_from(events).where(events.c.scope_id == scope_id)
            ),
            await conn.scalar(
                select(func.count())
                .select_from(metric_totals)
                .where(metric_totals.c.scope_id == scope_id)
            ),
            await conn.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.scope_id == scope_id)
            ),
        )  # type: ignore[return-value]


async def _total(env: TestEnvironment, user: str, metric: str, expected: float) -> None:
    """Wait (up to 15 s) for the background worker to count a batch."""
    deadline = asyncio.get_running_loop().time() + 15
    current = None
    while asyncio.get_running_loop().time() < deadline:
        response = await env.app.get(f"/users/{user}/metrics/{metric}")
        current = response.json().get("current") if response.status_code == 200 else None
        if current == expected:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{user}'s {metric} total is {current}, expected {expected}")


def _event(key: str, user: str | dict[str, Any], value: float, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "user": {"id": user} if isinstance(user, str) else user,
        "value": value,
        **extra,
    }


async def test_a_batch_is_accepted_and_processed_in_order(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.metric("words")
    batch = [_event("lessons", f"u{i % 10}", 1) for i in range(500)] + [
        _event("words", {"id": "u1", "name": "Una", "tz": "Asia/Tokyo"}, 2.5)
    ]
    response = await env.admin.post("/metrics/events", json=batch)
    assert response.status_code == 202
    assert response.json() == {"accepted": 501}
    await _total(env, "u9", "lessons", 50)
    await _total(env, "u1", "words", 2.5)
    user = (await env.app.get("/users/u1")).json()
    assert user["name"] == "Una"
    assert user["tz"] == "Asia/Tokyo"


async def test_batch_idempotency_keys_skip_repeats_but_still_count_as_accepted(
    env: TestEnvironment,
) -> None:
    await env.metric("lessons")
    first = await env.event("lessons", "ada", 1, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    batch = [
        _event("lessons", "ada", 10, idempotencyKey="k1"),  # used by the single endpoint
        _event("lessons", "ada", 20, idempotencyKey="k2"),
        _event("lessons", "ada", 40, idempotencyKey="k2"),  # repeats an earlier item
        _event("lessons", "ada", 80),
    ]
    assert (await env.admin.post("/metrics/events", json=batch)).json() == {"accepted": 4}
    await _total(env, "ada", "lessons", 101)


@pytest.mark.parametrize(
    ("batch", "status", "fragment"),
    [
        ([_event("missing", "ada", 1)], 404, "Metric 'missing' not found"),
        (
            [_event("lessons", "ada", 1, attributes={"nope": "x"})],
            422,
            "Invalid attribute keys: nope",
        ),
        ([_event("lessons", "ada", "1")], 400, "value"),
        ([{"key": "lessons", "value": 1}], 400, "user"),
        ([], 422, "non-empty"),
        ({"key": "lessons"}, 422, "array"),
    ],
)
async def test_a_bad_batch_queues_nothing(
    env: TestEnvironment, runtime: Runtime, batch: Any, status: int, fragment: str
) -> None:
    await env.metric("lessons")
    good = [_event("lessons", "bob", 1)] * 3
    payload = good + batch if isinstance(batch, list) and batch else batch
    response = await env.admin.post("/metrics/events", json=payload)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert await _counts(runtime, env.scope_id) == (0, 0, 0, 0)


async def test_batches_larger_than_1000_are_refused(env: TestEnvironment) -> None:
    await env.metric("lessons")
    response = await env.admin.post("/metrics/events", json=[_event("lessons", "a", 1)] * 1001)
    assert response.status_code == 422


async def test_a_batch_item_refused_by_stored_state_skips_only_that_item(
    env: TestEnvironment,
) -> None:
    await env.metric("lessons")
    batch = [
        _event("lessons", "ada", 1),
        _event("lessons", {"id": "bob", "subscribeToEmails": True}, 5),  # no email
        _event("lessons", "ada", 2),
    ]
    assert (await env.admin.post("/metrics/events", json=batch)).status_code == 202
    await _total(env, "ada", "lessons", 3)
    assert (await env.app.get("/users/bob")).status_code == 404


@pytest.mark.parametrize(
    ("user", "extra", "status"),
    [
        ({"id": "new-user", "tz": "Nowhere/City"}, {}, 422),
        ({"id": "new-user", "subscribeToEmails": True}, {}, 422),
        ({"id": "new-user", "attributes": {"undeclared": "x"}}, {}, 422),
        ({"id": "new-user"}, {"attributes": {"undeclared": "x"}}, 422),
        ({"id": "new-user", "signUpDate": "2999-12-31"}, {}, 422),
        ({"id": "new-user"}, {"value": 1e17}, 422),
        ({"id": "new-user", "name": 12}, {}, 400),
    ],
)
async def test_a_refused_event_leaves_nothing_behind(
    env: TestEnvironment, runtime: Runtime, user: dict[str, Any], extra: dict[str, Any], status: int
) -> None:
    await env.metric("lessons")
    body = {"user": user, "value": 1, **extra}
    response = await env.app.post(
        "/metrics/lessons/event", json=body, headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == status
    assert await _counts(runtime, env.scope_id) == (0, 0, 0, 0)


async def test_an_overflowing_event_for_a_new_user_leaves_nothing_behind(
    env: TestEnvironment, runtime: Runtime
) -> None:
    await env.metric("lessons")
    await env.event("lessons", "ada", 4e12)
    before = await _counts(runtime, env.scope_id)
    response = await env.event("lessons", {"id": "ada", "name": "Changed"}, 4e12)
    assert response.status_code == 422
    assert await _counts(runtime, env.scope_id) == before
    assert (await env.app.get("/users/ada")).json()["name"] is None


async def test_a_batch_item_that_would_push_a_total_out_of_range_is_skipped(
    env: TestEnvironment,
) -> None:
    await env.metric("lessons")
    batch = [_event("lessons", "ada", v) for v in (4e12, 4e12, -4e12, 5)]
    assert (await env.admin.post("/metrics/events", json=batch)).status_code == 202
    await _total(env, "ada", "lessons", 5)  # the second item (8e12) was refused alone
