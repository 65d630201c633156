"""`/v1/users…`: create, identify, update, get, preferences, control group."""

from __future__ import annotations

import pytest

from tests.support.api import TestEnvironment


async def test_create_then_get(env: TestEnvironment) -> None:
    created = await env.app.post(
        "/users", json={"id": "ada", "name": "Ada", "email": "ada@example.com", "tz": "Asia/Tokyo"}
    )
    assert created.status_code == 201
    body = (await env.app.get("/users/ada")).json()
    assert body == created.json()
    assert body["subscribeToEmails"] is True
    assert body["attributes"] == {}
    assert body["control"] is False
    assert body["signUpDate"] is None
    assert body["deviceTokens"] is None


async def test_creating_an_existing_user_is_422(env: TestEnvironment) -> None:
    await env.app.post("/users", json={"id": "ada"})
    again = await env.app.post("/users", json={"id": "ada"})
    assert again.status_code == 422
    assert again.json() == {"error": "User 'ada' already exists"}


async def test_unknown_users_are_404(env: TestEnvironment) -> None:
    assert (await env.app.get("/users/nobody")).status_code == 404
    assert (await env.app.patch("/users/nobody", json={"name": "X"})).status_code == 404
    assert (await env.app.get("/users/nobody/metrics")).status_code == 404
    assert (await env.app.get("/users/nobody/preferences")).status_code == 404


async def test_identify_creates_then_updates_only_what_is_sent(env: TestEnvironment) -> None:
    first = await env.app.put("/users/ada", json={"name": "Ada", "tz": "Europe/Paris"})
    assert first.status_code == 200
    second = await env.app.put("/users/ada", json={"email": "ada@example.com"})
    assert second.json()["name"] == "Ada"
    assert second.json()["tz"] == "Europe/Paris"
    assert second.json()["email"] == "ada@example.com"
    assert second.json()["created"] == first.json()["created"]


async def test_update_with_null_clears(env: TestEnvironment) -> None:
    await env.app.put("/users/ada", json={"name": "Ada", "tz": "Europe/Paris"})
    updated = await env.app.patch("/users/ada", json={"tz": None})
    assert updated.status_code == 200
    assert updated.json()["tz"] is None
    assert updated.json()["name"] == "Ada"


async def test_user_attributes_must_be_declared(env: TestEnvironment) -> None:
    await env.attribute("plan")
    ok = await env.app.put("/users/ada", json={"attributes": {"plan": "pro"}})
    assert ok.json()["attributes"] == {"plan": "pro"}
    bad = await env.app.put("/users/ada", json={"attributes": {"plan": "free", "colour": "red"}})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("Invalid attribute keys: colour")
    assert (await env.app.get("/users/ada")).json()["attributes"] == {"plan": "pro"}


async def test_deleting_a_user_attribute_removes_its_values(env: TestEnvironment) -> None:
    plan = await env.attribute("plan")
    await env.app.put("/users/ada", json={"attributes": {"plan": "pro"}})
    await env.admin.delete("/attributes", params={"ids": plan["id"]})
    assert (await env.app.get("/users/ada")).json()["attributes"] == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"tz": "Mars/Base"}, "IANA"),
        ({"subscribeToEmails": True}, "subscribeToEmails"),
        ({"signUpDate": "2999-01-01"}, "after today"),
        ({"signUpDate": "yesterday"}, "signUpDate"),
    ],
)
async def test_invalid_values_are_422(
    env: TestEnvironment, body: dict[str, object], fragment: str
) -> None:
    response = await env.app.put("/users/ada", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["error"]
    assert (await env.app.get("/users/ada")).status_code == 404


async def test_wrong_types_are_400(env: TestEnvironment) -> None:
    assert (await env.app.post("/users", json={"id": "ada", "email": 3})).status_code == 400
    assert (await env.app.post("/users", json={"name": "no id"})).status_code == 400
    assert (await env.app.put("/users/ada", json={"deviceTokens": "abc"})).status_code == 400


async def test_sign_up_date_is_stored_as_a_date(env: TestEnvironment) -> None:
    response = await env.app.put("/users/ada", json={"signUpDate": "2024-02-29T10:00:00Z"})
    assert response.json()["signUpDate"] == "2024-02-29"


async def test_the_control_group_follows_the_control_ratio(env: TestEnvironment) -> None:
    await env.admin.patch("/settings", json={"experimentation": {"controlRatio": 100}})
    assert (await env.app.put("/users/held-out", json={})).json()["control"] is True
    await env.admin.patch("/settings", json={"experimentation": {"controlRatio": 0}})
    assert (await env.app.put("/users/in-test", json={})).json()["control"] is False
    # Assigned once: changing the ratio does not move existing users.
    assert (await env.app.put("/users/held-out", json={"name": "H"})).json()["control"] is True


async def test_notification_preferences_are_partial_updates(env: TestEnvironment) -> None:
    await env.app.put("/users/ada", json={})
    assert (await env.app.get("/users/ada/preferences")).json() == {"notifications": {}}
    await env.app.patch("/users/ada/preferences", json={"notifications": {"recap": ["email"]}})
    response = await env.app.patch(
        "/users/ada/preferences", json={"notifications": {"streak_reminder": ["push", "email"]}}
    )
    assert response.json()["notifications"] == {
        "recap": ["email"],
        "streak_reminder": ["push", "email"],
    }
    assert "streak" not in response.json()


async def test_unknown_notification_types_or_channels_are_422(env: TestEnvironment) -> None:
    await env.app.put("/users/ada", json={})
    bad_channel = await env.app.patch(
        "/users/ada/preferences", json={"notifications": {"recap": ["sms"]}}
    )
    assert bad_channel.status_code == 422
    bad_type = await env.app.patch(
        "/users/ada/preferences", json={"notifications": {"sms": ["email"]}}
    )
    assert bad_type.status_code == 422
    assert "sms" in bad_type.json()["error"]


async def test_streak_customization_needs_it_enabled_but_enabled_is_free(
    env: TestEnvironment,
) -> None:
    await env.metric("lessons")
    await env.app.put("/users/ada", json={})
    forbidden = await env.app.patch(
        "/users/ada/preferences", json={"streak": {"evaluationMode": "OR", "metrics": []}}
    )
    assert forbidden.status_code == 403
    allowed = await env.app.patch("/users/ada/preferences", json={"streak": {"enabled": False}})
    assert allowed.status_code == 200
    assert allowed.json()["streak"] == {"enabled": False}
    assert (await env.app.get("/users/ada/preferences")).json()["streak"] == {"enabled": False}
