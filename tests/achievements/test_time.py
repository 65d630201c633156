"""Achievements that depend on time (anniversaries) or on other features (streaks),
and the shape of the `achievement.completed` payload."""

from __future__ import annotations

import uuid

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from trophy.core.pydantic_utilities import parse_obj_as
from trophy.types import WebhooksAchievementCompletedPayload

from plaudit.achievements import completion
from plaudit.core.clock import utcnow
from plaudit.users import service as users
from tests.achievements.test_api import define, webhooks
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.support.api import TestEnvironment
from tests.support.contract import _document, _rebase
from tests.support.outbox import listen


async def test_an_anniversary_completes_at_local_midnight(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen(clock_stack, env, "achievement.completed")
    await move_clock(env, "2094-03-10T00:00:00Z")
    await env.app.put("/users/tokyo", json={"tz": "Asia/Tokyo", "signUpDate": "2094-03-10"})
    await env.app.put("/users/london", json={"tz": "Europe/London", "signUpDate": "2094-03-10"})
    await env.app.put("/users/leap", json={"signUpDate": "2092-02-29"})
    year = await define(
        env, name="One year", trigger="anniversary", anniversaryYears=1, status="active"
    )
    four = await define(
        env, name="Four years", trigger="anniversary", anniversaryYears=4, status="active"
    )

    async def sent() -> list[tuple[str, str]]:
        return [
            (p["user"]["id"], p["achievement"]["name"])
            for p in await webhooks(clock_stack.runtime, env.scope_id)
        ]

    await move_clock(env, "2095-03-09T14:59:59Z")  # 23:59:59 on 9 March in Tokyo
    assert (await env.app.get("/users/tokyo/achievements")).json() == []
    await move_clock(env, "2095-03-09T15:00:00Z")  # midnight in Tokyo
    tokyo = (await env.app.get("/users/tokyo/achievements")).json()
    assert [(a["id"], a["achievedAt"]) for a in tokyo] == [(year["id"], "2095-03-09T15:00:00Z")]
    assert (await env.app.get("/users/london/achievements")).json() == []
    # Webhooks are read as they go out: the outbox keeps them only for the log retention.
    assert await sent() == [("tokyo", "One year")]
    await move_clock(env, "2095-03-10T00:00:00Z")  # midnight in London (GMT in March)
    assert [a["id"] for a in (await env.app.get("/users/london/achievements")).json()] == [
        year["id"]
    ]
    assert await sent() == [("tokyo", "One year"), ("london", "One year")]
    # 29 February 2092 + 4 years: 2096 is a leap year, so 29 February 2096, UTC midnight.
    await move_clock(env, "2096-02-28T23:59:59Z")
    assert [a["id"] for a in (await env.app.get("/users/leap/achievements")).json()] == [year["id"]]
    await move_clock(env, "2096-02-29T00:00:00Z")
    leap = (await env.app.get("/users/leap/achievements")).json()
    assert [(a["id"], a["achievedAt"]) for a in leap][1] == (four["id"], "2096-02-29T00:00:00Z")
    # The 2095 rows have aged out; leap's first year passed before it joined (no webhook).
    assert await sent() == [("leap", "Four years")]


async def test_a_sign_up_date_already_past_completes_silently(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen(clock_stack, env, "achievement.completed")
    await move_clock(env, "2097-06-01T00:00:00Z")
    year = await define(
        env, name="One year", trigger="anniversary", anniversaryYears=1, status="active"
    )
    await env.app.put("/users/old", json={"signUpDate": "2090-01-01"})
    assert [a["id"] for a in (await env.app.get("/users/old/achievements")).json()] == [year["id"]]
    assert await webhooks(clock_stack.runtime, env.scope_id) == []


async def test_streak_achievements_complete_when_a_streak_reaches_them(
    env: TestEnvironment, stack: Stack
) -> None:
    week = await define(env, name="Week", trigger="streak", streakLength=7, status="active")
    month = await define(env, name="Month", trigger="streak", streakLength=30, status="active")
    await env.app.put("/users/ada", json={})
    runtime = stack.runtime
    async with runtime.db.transaction() as conn:
        config = await runtime.config.get(conn, env.scope_id)
        user = await users.get(conn, env.scope_id, "ada")
        done = await completion.on_streak(conn, config, user, 7, utcnow())
        again = await completion.on_streak(conn, config, user, 8, utcnow())
    assert [c.achievement.id for c in done] == [uuid.UUID(week["id"])]
    assert again == []
    mine = [a["id"] for a in (await env.app.get("/users/ada/achievements")).json()]
    assert mine == [week["id"]]
    assert month["id"] not in mine


async def test_the_webhook_payload_matches_the_contract_and_the_sdk(
    env: TestEnvironment, stack: Stack
) -> None:
    await listen(stack, env, "achievement.completed")
    metric = await env.metric("lessons")
    await define(env, trigger="metric", metricId=metric["id"], metricValue=1, status="active")
    await env.event("lessons", {"id": "ada", "name": "Ada"}, 1)
    [payload] = await webhooks(stack.runtime, env.scope_id)
    parsed = parse_obj_as(WebhooksAchievementCompletedPayload, payload)
    assert parsed.type == "achievement.completed"
    assert parsed.user.id == "ada"
    document = _document("app")
    registry = Registry().with_resource(
        "urn:app", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = document["webhooks"]["achievement.completed"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    jsonschema.Draft202012Validator(_rebase(schema, "app"), registry=registry).validate(payload)


async def test_anniversaries_already_due_at_activation_are_backdated_not_announced(
    clock_env: TestEnvironment, clock_stack: Stack
) -> None:
    env = clock_env
    await listen(clock_stack, env, "achievement.completed")
    await move_clock(env, "2098-01-01T00:00:00Z")
    await env.app.put("/users/veteran", json={"signUpDate": "2090-05-05"})
    year = await define(
        env, name="One year", trigger="anniversary", anniversaryYears=1, status="active"
    )
    await move_clock(env, "2098-01-01T00:00:01Z")  # lets the worker and the sweep run
    mine = (await env.app.get("/users/veteran/achievements")).json()
    assert [(a["id"], a["achievedAt"]) for a in mine] == [(year["id"], "2098-01-01T00:00:00Z")]
    assert await webhooks(clock_stack.runtime, env.scope_id) == []
