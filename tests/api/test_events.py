"""`POST /v1/metrics/{key}/event`: totals, inline identification, idempotency, errors."""

from __future__ import annotations

import pytest

from tests.support.api import TestEnvironment


async def test_the_response_has_the_full_event_shape(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    response = await env.event("lessons", "ada", 3)
    assert response.status_code == 201
    body = response.json()
    assert body["metricId"] == metric["id"]
    assert body["total"] == 3
    assert isinstance(body["total"], int)
    assert body["achievements"] == []
    assert body["points"] == {}
    assert body["leaderboards"] == {}
    assert body["currentStreak"]["length"] == 0
    assert body["currentStreak"]["extended"] is False
    assert "idempotencyKey" not in body
    assert "idempotentReplayed" not in body


async def test_values_add_up_exactly(env: TestEnvironment) -> None:
    await env.metric("km")
    totals = [(await env.event("km", "ada", v)).json()["total"] for v in (0.1, 0.2, -0.05, 0, 1e6)]
    assert totals == [0.1, 0.3, 0.25, 0.25, 1000000.25]


async def test_inline_identification_creates_and_updates_the_user(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.attribute("plan")
    user = {"id": "ada", "name": "Ada", "tz": "Europe/London", "attributes": {"plan": "pro"}}
    assert (await env.event("lessons", user)).status_code == 201
    await env.event("lessons", {"id": "ada", "email": "ada@example.com"})
    stored = (await env.app.get("/users/ada")).json()
    assert stored["name"] == "Ada"
    assert stored["tz"] == "Europe/London"
    assert stored["email"] == "ada@example.com"
    assert stored["attributes"] == {"plan": "pro"}


async def test_totals_are_per_user_and_per_metric(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.metric("words")
    await env.event("lessons", "ada", 2)
    await env.event("words", "ada", 500)
    await env.event("lessons", "bob", 7)
    ada = {m["key"]: m["current"] for m in (await env.app.get("/users/ada/metrics")).json()}
    assert ada == {"lessons": 2, "words": 500}
    bob = (await env.app.get("/users/bob/metrics/lessons")).json()
    assert bob["current"] == 7


async def test_an_idempotency_key_counts_once_and_replays_with_202(env: TestEnvironment) -> None:
    await env.metric("lessons")
    first = await env.event("lessons", "ada", 5, headers={"Idempotency-Key": "k-1"})
    again = await env.event("lessons", "ada", 5, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    assert first.json()["idempotencyKey"] == "k-1"
    assert first.json()["idempotentReplayed"] is False
    assert again.status_code == 202
    assert again.json()["idempotentReplayed"] is True
    assert again.json()["eventId"] == first.json()["eventId"]
    assert again.json()["total"] == 5


async def test_idempotency_keys_are_scoped_to_user_and_metric(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.metric("words")
    key = {"Idempotency-Key": "same"}
    assert (await env.event("lessons", "ada", 1, headers=key)).status_code == 201
    assert (await env.event("words", "ada", 1, headers=key)).status_code == 201
    assert (await env.event("lessons", "bob", 1, headers=key)).status_code == 201
    assert (await env.event("lessons", "ada", 1, headers=key)).status_code == 202


async def test_a_replay_still_updates_the_profile_but_counts_nothing(env: TestEnvironment) -> None:
    await env.metric("lessons")
    key = {"Idempotency-Key": "k"}
    await env.event("lessons", "ada", 1, headers=key)
    replay = await env.event("lessons", {"id": "ada", "name": "Ada L."}, 1, headers=key)
    assert replay.status_code == 202
    assert replay.json()["total"] == 1
    assert (await env.app.get("/users/ada")).json()["name"] == "Ada L."


async def test_a_key_of_a_failed_request_can_be_used_again(env: TestEnvironment) -> None:
    await env.metric("lessons")
    key = {"Idempotency-Key": "retry-me"}
    failed = await env.event("lessons", "ada", 1, headers=key, body={"attributes": {"nope": "x"}})
    assert failed.status_code == 422
    assert (await env.event("lessons", "ada", 1, headers=key)).status_code == 201


async def test_an_unknown_metric_is_404(env: TestEnvironment) -> None:
    response = await env.event("missing", "ada", 1)
    assert response.status_code == 404
    assert response.json() == {"error": "Metric 'missing' not found"}


async def test_a_deleted_metric_is_404_and_frees_its_key(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    await env.admin.delete("/metrics", params={"ids": metric["id"]})
    assert (await env.event("lessons", "ada", 1)).status_code == 404
    again = await env.metric("lessons")
    assert again["id"] != metric["id"]
    assert (await env.event("lessons", "ada", 1)).json()["total"] == 1


async def test_undeclared_event_attributes_are_422_naming_the_keys(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.attribute("source", "event")
    await env.attribute("plan", "user")
    ok = await env.event("lessons", "ada", 1, body={"attributes": {"source": "web"}})
    assert ok.status_code == 201
    bad = await env.event("lessons", "ada", 1, body={"attributes": {"plan": "x", "zzz": "y"}})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("Invalid attribute keys: plan, zzz")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"user": {"id": "ada"}}, "value is required"),
        ({"value": 1}, "user is required"),
        ({"user": {}, "value": 1}, "user.id is required"),
        ({"user": {"id": 42}, "value": 1}, "user.id"),
        ({"user": {"id": "ada"}, "value": "7"}, "value"),
        ({"user": {"id": "ada"}, "value": True}, "value"),
        ({"user": {"id": "ada"}, "value": 1, "attributes": {"source": 1}}, "attributes.source"),
        ({"user": {"id": "ada", "email": 5}, "value": 1}, "user.email"),
    ],
)
async def test_schema_violations_are_400_naming_the_field(
    env: TestEnvironment, body: dict[str, object], fragment: str
) -> None:
    await env.metric("lessons")
    response = await env.app.post("/metrics/lessons/event", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


async def test_malformed_json_is_400(env: TestEnvironment) -> None:
    response = await env.app.post(
        "/metrics/lessons/event", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_non_finite_and_out_of_range_values_are_refused(env: TestEnvironment) -> None:
    await env.metric("lessons")
    nan = await env.app.post(
        "/metrics/lessons/event",
        content=b'{"user": {"id": "ada"}, "value": NaN}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 400
    huge = await env.event("lessons", "ada", 1e16)
    assert huge.status_code == 422
    assert "between" in huge.json()["error"]


async def test_a_total_that_would_overflow_is_refused_and_nothing_changes(
    env: TestEnvironment,
) -> None:
    await env.metric("lessons")
    first = await env.event("lessons", "ada", 4e12)
    assert first.status_code == 201
    overflow = await env.event("lessons", "ada", 4e12)
    assert overflow.status_code == 422
    assert (await env.app.get("/users/ada/metrics/lessons")).json()["current"] == 4e12
