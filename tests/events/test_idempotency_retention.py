"""Idempotency-key retention (PLAUDIT_IDEMPOTENCY_RETENTION_DAYS): keys of events older than
the retention are forgotten, in short chunks, so they may be used again; the events stay.

The clock only moves forward and is shared by this module: each clock test has a year of
its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.events.jobs import forget_idempotency_keys, idempotency_retention
from plaudit.events.tables import events
from plaudit.jobs.registry import SweepContext
from plaudit.jobs.sweeps import CHUNK
from plaudit.jobs.tables import sweeps
from plaudit.users.tables import users
from tests.api.test_test_clock import move_clock
from tests.conftest import BACKENDS, Stack, running_stack
from tests.support.api import TestEnvironment, make_environment

RETENTION_DAYS = 7


@pytest.fixture(scope="module")
async def sqlite_keys_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("keys-clock")
    async with running_stack(
        "sqlite", folder, test_clock=True, idempotency_retention_days=RETENTION_DAYS
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
async def postgres_keys_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("keys-clock")
    async with running_stack(
        "postgres", folder, test_clock=True, idempotency_retention_days=RETENTION_DAYS
    ) as stack:
        yield stack


@pytest.fixture(params=BACKENDS)
def keys_stack(request: pytest.FixtureRequest) -> Stack:
    """A test-clock server that remembers idempotency keys for RETENTION_DAYS."""
    found: Stack = request.getfixturevalue(f"{request.param}_keys_stack")
    return found


@pytest.fixture
async def keys_env(keys_stack: Stack) -> TestEnvironment:
    return await make_environment(keys_stack.runtime, keys_stack.http)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def send(env: TestEnvironment, key: str) -> int:
    response = await env.event("lessons", "ada", 1, headers={"Idempotency-Key": key})
    assert response.status_code in (201, 202), response.json()
    return response.status_code


async def total(env: TestEnvironment) -> Any:
    response = await env.app.get("/users/ada/metrics/lessons")
    assert response.status_code == 200, response.json()
    return response.json()["current"]


def keyed_event(
    env: TestEnvironment, user_pk: int, metric_id: uuid.UUID, key: str | None, created: dt.datetime
) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "scope_id": env.scope_id,
        "user_pk": user_pk,
        "metric_id": metric_id,
        "value": 1,
        "attributes": None,
        "idempotency_key": key,
        "created": created,
    }


async def ada(conn: AsyncConnection, env: TestEnvironment) -> int:
    pk = await conn.scalar(
        select(users.c.pk).where(users.c.scope_id == env.scope_id, users.c.id == "ada")
    )
    assert pk is not None
    return int(pk)


async def counts(conn: AsyncConnection, env: TestEnvironment) -> tuple[int, int]:
    """The scope's events, and how many of them still have their key."""
    row = (
        await conn.execute(
            select(func.count(), func.count(events.c.idempotency_key)).where(
                events.c.scope_id == env.scope_id
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def next_run(stack: Stack) -> dt.datetime | None:
    async with stack.runtime.db.transaction(write=False) as conn:
        found: dt.datetime | None = await conn.scalar(
            select(sweeps.c.next_run_at).where(sweeps.c.name == "events.idempotency_retention")
        )
        return found


async def test_a_key_is_remembered_for_the_retention_then_may_be_used_again(
    keys_env: TestEnvironment, keys_stack: Stack
) -> None:
    env = keys_env
    await move_clock(env, "2096-01-01T00:00:00Z")
    await env.metric("lessons")
    assert await send(env, "old") == 201
    await move_clock(env, "2096-01-02T00:00:00Z")
    assert await send(env, "newer") == 201
    # Exactly the retention later (the sweep runs every hour): the key is still known.
    await move_clock(env, "2096-01-08T00:00:00Z")
    assert await send(env, "old") == 202
    await move_clock(env, "2096-01-08T01:00:00Z")
    assert await send(env, "old") == 201  # forgotten: a new event
    assert await send(env, "newer") == 202
    assert await total(env) == 3  # the event whose key was forgotten still counts
    assert await next_run(keys_stack) == at("2096-01-08T02:00:00Z")


async def test_a_large_backlog_drains_in_chunks_without_waiting_for_the_next_hour(
    keys_env: TestEnvironment, keys_stack: Stack
) -> None:
    env = keys_env
    start = at("2097-01-01T00:00:00Z")
    count = 2 * CHUNK + CHUNK // 2
    await move_clock(env, "2097-01-01T00:00:00Z")
    metric = await env.metric("lessons")
    assert (await env.event("lessons", "ada", 1)).status_code == 201
    async with keys_stack.runtime.db.transaction() as conn:
        pk = await ada(conn, env)
        rows = [keyed_event(env, pk, uuid.UUID(metric["id"]), f"k{n}", start) for n in range(count)]
        await conn.execute(insert(events), rows)

    async def left() -> tuple[int, int]:
        async with keys_stack.runtime.db.transaction(write=False) as conn:
            return await counts(conn, env)

    # Each run forgets one chunk in a transaction of its own and, the chunk being full, is
    # due again at once: the clock stays put, yet the backlog drains. (The embedded worker
    # may run some of the chunks between the moves, at the same clock time: how many each
    # run touched is the chunk test's to check.)
    await move_clock(env, "2097-01-09T00:00:00Z")
    for _ in range(10):
        if not (await left())[1]:
            break
        await move_clock(env, "2097-01-09T00:00:00Z")
    assert await left() == (count + 1, 0)
    assert await next_run(keys_stack) == at("2097-01-09T01:00:00Z")  # last run not full


class Rollback(Exception):
    """Ends a test transaction without committing it."""


async def test_forgetting_touches_at_most_a_chunk_per_call_and_nothing_without_a_retention(
    env: TestEnvironment, stack: Stack
) -> None:
    """On the shared stack (no retention set), in a transaction rolled back at the end, with
    events dated 1990: older than anything else in the database, so only they are due."""
    old = at("1990-01-01T00:00:00Z")
    cutoff = old + dt.timedelta(days=1)
    metric = await env.metric("lessons")
    assert (await env.event("lessons", "ada", 1)).status_code == 201

    async def scenario() -> None:
        async with stack.runtime.db.transaction() as conn:
            pk = await ada(conn, env)
            metric_id = uuid.UUID(metric["id"])
            expired = [keyed_event(env, pk, metric_id, f"k{n}", old) for n in range(5)]
            kept = keyed_event(env, pk, metric_id, "at-cutoff", cutoff)
            await conn.execute(insert(events), [*expired, kept])
            # The shared stack sets no retention: its sweep remembers every key, however old.
            years_later = SweepContext(stack.runtime, conn, old + dt.timedelta(days=3650))
            assert await idempotency_retention.run(years_later) == 0
            assert await counts(conn, env) == (7, 6)
            runs = [await forget_idempotency_keys(conn, cutoff, chunk=2) for _ in range(4)]
            assert [(run.done, run.more) for run in runs] == [
                (2, True),
                (2, True),
                (1, False),
                (0, False),
            ]
            assert await counts(conn, env) == (7, 1)  # every event stays; one key does
            key = await conn.scalar(
                select(events.c.idempotency_key).where(
                    events.c.scope_id == env.scope_id, events.c.idempotency_key.is_not(None)
                )
            )
            assert key == "at-cutoff"
            raise Rollback

    with pytest.raises(Rollback):
        await scenario()
