"""Retries, Retry-After, disabling, throttling and log retention, driven by the test clock.

The clock only moves forward and is shared by this module: each test has a year of its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from typing import Any

from plaudit.webhooks import rules
from plaudit.webhooks.outbox import WebhookEvent, emit
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.webhooks.conftest import deliveries, subscribe
from tests.webhooks.receiver import Received, receiver

SCHEDULE = [60, 300, 1800, 7200, 21600, 43200]  # the default (DECISIONS.md)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def emit_at(stack: Stack, env: TestEnvironment, when: str, *events: WebhookEvent) -> None:
    async with stack.runtime.db.transaction() as conn:
        await emit(conn, env.scope_id, list(events), at(when), interest=None)


async def wants(stack: Stack, env: TestEnvironment, event_type: str) -> bool:
    """Whether the scope's configuration, as this process has it cached, wants the type."""
    async with stack.runtime.db.transaction(write=False) as conn:
        config = await stack.runtime.config.get(conn, env.scope_id)
    return config.webhooks.wants(event_type)


def streak(user: str) -> WebhookEvent:
    return WebhookEvent("streak.started", {"user": {"id": user}, "streak": {"length": 1}})


async def failing(_received: Received) -> tuple[int, dict[str, str]]:
    return 500, {}


async def one_delivery(env: TestEnvironment, webhook_id: str) -> dict[str, Any]:
    [found] = await deliveries(env, webhook_id)
    shown = await env.admin.get(f"/webhooks/deliveries/{found['id']}")
    assert shown.status_code == 200, shown.json()
    detail: dict[str, Any] = shown.json()
    return detail


async def test_a_receiver_failing_half_the_time_still_gets_every_event(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env = hook_clock_env
    rng = random.Random(7)
    failures_in_a_row: Counter[str] = Counter()

    async def flaky(received: Received) -> tuple[int, dict[str, str]]:
        # Half the requests fail; no event fails more often than the schedule has retries.
        if failures_in_a_row[received.id] < 4 and rng.random() < 0.5:
            failures_in_a_row[received.id] += 1
            return 503, {}
        failures_in_a_row[received.id] = 0
        return 200, {}

    async with receiver(flaky) as hook:
        created = await subscribe(env, hook.url)
        await move_clock(env, "2101-01-01T00:00:00Z")
        events = [streak(f"user{n}") for n in range(30)]
        await emit_at(hook_clock_stack, env, "2101-01-01T00:00:00Z", *events)
        await move_clock(env, "2101-01-01T00:00:00Z")
        await move_clock(env, "2101-01-02T00:00:00Z")  # every retry falls due on the way
    answered = Counter(r.id for r in hook.received)
    assert len(answered) == 30  # deduplicated on webhook-id: every event arrived
    failed = sum(failures_in_a_row.values())  # (0 for each event that finally succeeded)
    assert failed == 0
    assert len(hook.received) > 40  # retries happened: about half of the requests failed
    listed = await deliveries(env, created["id"])
    assert Counter(d["status"] for d in listed) == {"succeeded": 30}
    assert {d["eventId"] for d in listed} == set(answered)
    assert sum(d["attempts"] for d in listed) == len(hook.received)


async def test_retries_follow_the_schedule_then_the_delivery_fails(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env = hook_clock_env
    async with receiver(failing) as hook:
        created = await subscribe(env, hook.url)
        await move_clock(env, "2102-01-01T00:00:00Z")
        await emit_at(hook_clock_stack, env, "2102-01-01T00:00:00Z", streak("ada"))
        await move_clock(env, "2102-01-01T00:00:00Z")
        first = await one_delivery(env, created["id"])
        assert first["status"] == "pending"
        assert first["lastStatusCode"] == 500
        next_at = at(first["nextAttemptAt"])
        assert at("2102-01-01T00:00:54Z") <= next_at <= at("2102-01-01T00:01:06Z")
        await move_clock(env, "2102-01-02T00:00:00Z")
        done = await one_delivery(env, created["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == len(SCHEDULE) + 1
    assert done["nextAttemptAt"] is None
    starts = [at(a["started"]) for a in done["attemptLog"]]
    for n, (before, after) in enumerate(itertools.pairwise(starts), start=1):
        low, high = rules.jitter_bounds(n, SCHEDULE)
        assert low - dt.timedelta(seconds=1) <= after - before <= high + dt.timedelta(seconds=1)
    assert len({r.id for r in hook.received}) == 1  # the same webhook-id every time
    assert len(hook.received) == len(SCHEDULE) + 1
    # Logs are kept 7 days, then purged.
    await move_clock(env, "2102-01-10T00:00:00Z")
    assert await deliveries(env, created["id"]) == []


async def test_retry_after_is_honoured(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env = hook_clock_env

    async def busy(_received: Received) -> tuple[int, dict[str, str]]:
        return 429, {"Retry-After": "3600"}

    async with receiver(busy) as hook:
        created = await subscribe(env, hook.url)
        await move_clock(env, "2103-01-01T00:00:00Z")
        await emit_at(hook_clock_stack, env, "2103-01-01T00:00:00Z", streak("ada"))
        await move_clock(env, "2103-01-01T00:00:00Z")
        first = await one_delivery(env, created["id"])
        assert first["nextAttemptAt"] == "2103-01-01T01:00:00Z"
        await move_clock(env, "2103-01-01T00:59:59Z")
        assert len(hook.received) == 1
        await move_clock(env, "2103-01-01T01:00:00Z")
        assert len(hook.received) == 2


async def test_a_subscription_failing_for_24_hours_is_disabled_and_says_so(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env = hook_clock_env
    healthy = False

    async def broken_then_fixed(_received: Received) -> tuple[int, dict[str, str]]:
        return (200 if healthy else 500), {}

    async with receiver(broken_then_fixed) as hook:
        created = await subscribe(env, hook.url)
        await move_clock(env, "2104-01-01T00:00:00Z")
        await emit_at(hook_clock_stack, env, "2104-01-01T00:00:00Z", streak("ada"))
        await move_clock(env, "2104-01-01T23:59:00Z")
        assert (await env.admin.get(f"/webhooks/{created['id']}")).json()["status"] == "active"
        assert await wants(hook_clock_stack, env, "streak.started")  # cached from here on
        await emit_at(hook_clock_stack, env, "2104-01-01T23:59:00Z", streak("bob"))
        # bob's first attempt may go out at once (the worker runs beside the test); the
        # retries after midnight come 24 hours after the first failure.
        await move_clock(env, "2104-01-02T00:40:00Z")
        shown = (await env.admin.get(f"/webhooks/{created['id']}")).json()
        assert shown["status"] == "disabled"
        assert "failed for 24 hours" in shown["disabledReason"]
        # Disabling bumped the config version: the cached interest is not used any more.
        assert not await wants(hook_clock_stack, env, "streak.started")
        sent = len(hook.received)
        await emit_at(hook_clock_stack, env, "2104-01-02T00:40:00Z", streak("cy"))
        await move_clock(env, "2104-01-03T00:00:00Z")
        assert len(hook.received) == sent  # disabled: nothing is sent
        healthy = True
        patched = await env.admin.patch(
            "/webhooks", json=[{"id": created["id"], "status": "active"}]
        )
        assert patched.json()["updated"][0]["status"] == "active"
        assert patched.json()["updated"][0]["disabledReason"] is None
        assert await wants(hook_clock_stack, env, "streak.started")
        await move_clock(env, "2104-01-03T00:00:00Z")
    # bob's delivery was pending when the subscription was disabled; it resumes.
    assert {r.payload["user"]["id"] for r in hook.received} == {"ada", "bob"}
    statuses = {
        d["payload"]["user"]["id"]: d["status"] for d in await deliveries(env, created["id"])
    }
    assert statuses == {"ada": "failed", "bob": "succeeded"}


async def test_points_and_leaderboard_changes_are_throttled_and_coalesced(
    hook_clock_env: TestEnvironment, hook_clock_stack: Stack
) -> None:
    env = hook_clock_env

    def points(user: str, added: int, total: int) -> WebhookEvent:
        award = {"id": f"{user}-{total}", "awarded": added}
        body = {"id": "xp", "key": "xp", "total": total, "added": added, "awards": [award]}
        return WebhookEvent("points.changed", {"user": {"id": user}, "points": body})

    def board(board_id: str, leader: str) -> WebhookEvent:
        return WebhookEvent(
            "leaderboard.changed", {"leaderboard": {"id": board_id, "rankings": [leader]}}
        )

    async with receiver() as hook:
        await subscribe(env, hook.url)
        await move_clock(env, "2105-01-01T00:00:00Z")
        stack = hook_clock_stack
        await emit_at(stack, env, "2105-01-01T00:00:00Z", points("ada", 10, 10), board("a", "ada"))
        await move_clock(env, "2105-01-01T00:00:00Z")
        await emit_at(stack, env, "2105-01-01T00:01:00Z", points("ada", 5, 15), points("bob", 1, 1))
        await move_clock(env, "2105-01-01T00:01:00Z")
        await emit_at(stack, env, "2105-01-01T00:02:00Z", points("ada", 2, 17), board("a", "bob"))
        await emit_at(stack, env, "2105-01-01T00:02:00Z", board("b", "cy"))
        await move_clock(env, "2105-01-01T00:14:59Z")
        early = [(r.payload["type"], r.payload.get("user", {}).get("id")) for r in hook.received]
        assert sorted(early, key=str) == sorted(
            [
                ("points.changed", "ada"),
                ("leaderboard.changed", None),  # board a
                ("points.changed", "bob"),
                ("leaderboard.changed", None),  # board b: another subject
            ],
            key=str,
        )
        await move_clock(env, "2105-01-01T00:15:00Z")  # ada's and board a's windows close
    late = [r.payload for r in hook.received[4:]]
    assert len(late) == 2
    [ada] = [p for p in late if p["type"] == "points.changed"]
    assert ada["user"]["id"] == "ada"
    assert ada["points"]["total"] == 17  # the latest state
    assert ada["points"]["added"] == 7  # both held changes
    assert [a["id"] for a in ada["points"]["awards"]] == ["ada-15", "ada-17"]
    [changed] = [p for p in late if p["type"] == "leaderboard.changed"]
    assert changed["leaderboard"] == {"id": "a", "rankings": ["bob"]}
