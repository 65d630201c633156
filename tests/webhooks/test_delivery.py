"""Deliveries in real time, by the embedded worker, to real HTTP receivers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from standardwebhooks import Webhook
from trophy.core.pydantic_utilities import parse_obj_as
from trophy.types import WebhooksAchievementCompletedPayload

from plaudit.core.clock import utcnow
from plaudit.webhooks.outbox import WebhookEvent, emit
from tests.achievements.test_api import define
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.support.contract import _document, _rebase
from tests.webhooks.conftest import settled, subscribe
from tests.webhooks.receiver import Received, receiver


def check_achievement_payload(payload: dict[str, Any]) -> None:
    """The body parses into SDK 1.27.0's model and validates against the spec's schema."""
    parsed = parse_obj_as(WebhooksAchievementCompletedPayload, payload)
    assert parsed.type == "achievement.completed"
    document = _document("app")
    registry = Registry().with_resource(
        "urn:app", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = document["webhooks"]["achievement.completed"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    jsonschema.Draft202012Validator(_rebase(schema, "app"), registry=registry).validate(payload)


async def achievement(env: TestEnvironment, key: str = "lessons") -> None:
    metric = await env.metric(key)
    await define(env, trigger="metric", metricId=metric["id"], metricValue=1, status="active")


async def emit_now(stack: Stack, scope_id: int, *events: WebhookEvent) -> None:
    async with stack.runtime.db.transaction() as conn:
        await emit(conn, scope_id, list(events), utcnow(), interest=None)


def ping(n: int) -> WebhookEvent:
    return WebhookEvent("streak.started", {"user": {"id": f"u{n}"}, "streak": {"length": 1}})


async def test_an_achievement_is_delivered_signed_twice(hook_env: TestEnvironment) -> None:
    env = hook_env
    await achievement(env)
    async with receiver() as hook:
        created = await subscribe(env, hook.url, events=["achievement.completed"])
        secret = created["secret"]
        assert (await env.event("lessons", {"id": "ada", "name": "Ada"}, 1)).status_code == 201
        await hook.wait_for(1)
    [got] = hook.received
    # Standard Webhooks, with the official library (the timestamp is the real time here)...
    assert Webhook(secret).verify(got.body, got.headers) == got.payload
    # ...and by hand, like Trophy's receivers do.
    trophy = hmac.new(secret.encode(), got.body, hashlib.sha256).digest()
    assert got.headers["x-trophy-signature"] == base64.b64encode(trophy).decode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.id}.{got.headers['webhook-timestamp']}.".encode() + got.body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert got.headers["webhook-signature"] == f"v1,{standard}"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-trophy-event-id"] == got.id
    check_achievement_payload(got.payload)
    assert got.payload["user"]["id"] == "ada"

    listed = await settled(env, created["id"], 1)
    assert [(d["eventId"], d["status"], d["attempts"]) for d in listed] == [
        (got.id, "succeeded", 1)
    ]
    assert listed[0]["payload"] == got.payload
    assert listed[0]["lastStatusCode"] == 200
    assert isinstance(listed[0]["durationMs"], int)


async def test_subscriptions_receive_only_their_types(
    hook_env: TestEnvironment, hook_stack: Stack
) -> None:
    env = hook_env
    async with receiver() as everything, receiver() as streaks_only, receiver() as other:
        await subscribe(env, everything.url)
        await subscribe(env, streaks_only.url, events=["streak.started"])
        await subscribe(env, other.url, events=["points.changed"])
        await emit_now(hook_stack, env.scope_id, ping(1), WebhookEvent("streak.lost", {"n": 1}))
        await everything.wait_for(2)
        await streaks_only.wait_for(1)
        await asyncio.sleep(0.3)
    assert sorted(r.payload["type"] for r in everything.received) == [
        "streak.lost",
        "streak.started",
    ]
    assert [r.payload["type"] for r in streaks_only.received] == ["streak.started"]
    assert other.received == []


async def test_a_rolled_back_change_sends_nothing(
    hook_env: TestEnvironment, hook_stack: Stack
) -> None:
    env = hook_env
    async with receiver() as hook:
        await subscribe(env, hook.url)

        class Abort(Exception):
            pass

        async def change_that_fails() -> None:
            async with hook_stack.runtime.db.transaction() as conn:
                await emit(conn, env.scope_id, [ping(1)], utcnow(), interest=None)
                raise Abort

        with pytest.raises(Abort):
            await change_that_fails()
        await emit_now(hook_stack, env.scope_id, ping(2))  # committed after the rolled-back one
        await hook.wait_for(1)
        await asyncio.sleep(0.3)
    assert [r.payload["user"]["id"] for r in hook.received] == ["u2"]


async def test_a_hanging_receiver_does_not_delay_a_healthy_one(
    hook_env: TestEnvironment, hook_stack: Stack
) -> None:
    env = hook_env
    release = asyncio.Event()

    async def hang(_received: Received) -> tuple[int, dict[str, str]]:
        await release.wait()
        return 200, {}

    async with receiver(hang) as stuck, receiver() as healthy:
        await subscribe(env, stuck.url)
        await subscribe(env, healthy.url)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(12):
            await emit_now(hook_stack, env.scope_id, ping(n))
        await healthy.wait_for(12, within=10)
        took = loop.time() - started
        release.set()
    # The hanging receiver holds its own connections up to the 2 s timeout; the healthy
    # one got all 12 while those were still open.
    assert took < 1.9, took
    assert len(healthy.ids()) == 12
    assert 1 <= len(stuck.received) <= hook_stack.runtime.settings.webhook_connections_per_host


async def test_the_test_event_and_a_manual_redelivery(hook_env: TestEnvironment) -> None:
    env = hook_env
    async with receiver() as hook:
        created = await subscribe(env, hook.url, status="inactive")
        sent = await env.admin.post(f"/webhooks/{created['id']}/test")
        assert sent.status_code == 200, sent.json()
        body = sent.json()
        assert body["status"] == "succeeded"
        assert body["type"] == "test"
        assert [a["statusCode"] for a in body["attemptLog"]] == [200]
        assert hook.received[0].payload["type"] == "test"
        again = await env.admin.post(f"/webhooks/deliveries/{body['id']}/retry")
        assert again.status_code == 200, again.json()
        assert again.json()["attempts"] == 2
    assert [r.id for r in hook.received] == [body["eventId"], body["eventId"]]
    shown = await env.admin.get(f"/webhooks/deliveries/{body['id']}")
    assert [a["attempt"] for a in shown.json()["attemptLog"]] == [1, 2]
    missing = await env.admin.post(
        "/webhooks/deliveries/00000000-0000-0000-0000-000000000000/retry"
    )
    assert missing.status_code == 404


async def test_a_burst_is_delivered_once_each_and_every_attempt_recorded(
    hook_env: TestEnvironment, hook_stack: Stack
) -> None:
    """Claims and recordings come in batches: none of that may lose, repeat or leave an
    attempt unrecorded."""
    env = hook_env
    async with receiver() as hook:
        created = await subscribe(env, hook.url)
        await emit_now(hook_stack, env.scope_id, *(ping(n) for n in range(80)))
        await hook.wait_for(80)
        listed = await settled(env, created["id"], 80)
        await asyncio.sleep(0.2)
    assert len(hook.received) == len(hook.ids()) == 80
    assert {d["eventId"] for d in listed} == hook.ids()
    assert {(d["status"], d["attempts"], d["lastStatusCode"]) for d in listed} == {
        ("succeeded", 1, 200)
    }
    shown = await env.admin.get(f"/webhooks/deliveries/{listed[0]['id']}")
    assert [(a["attempt"], a["statusCode"]) for a in shown.json()["attemptLog"]] == [(1, 200)]
