"""Admin `/attributes` and `/metrics`: bulk create/update/delete with per-item issues."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import TestEnvironment


async def test_create_reports_bad_items_as_issues_by_index(env: TestEnvironment) -> None:
    response = await env.admin.post(
        "/metrics",
        json=[
            {"name": "Lessons", "key": "lessons"},
            {"name": "Dup", "key": "lessons"},
            {"name": 7, "key": "x"},
            {"name": "Bad key", "key": "has space"},
            {"name": "Money", "key": "revenue", "unitType": "currency", "units": "usd"},
            {"name": "Coins", "key": "coins", "unitType": "currency", "units": "DOGE"},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert [m["key"] for m in body["created"]] == ["lessons", "revenue"]
    assert body["created"][1]["units"] == "USD"
    assert body["created"][0] == {
        **body["created"][0],
        "unitType": "number",
        "units": "",
        "status": "active",
    }
    issues = {issue["index"]: issue["message"] for issue in body["issues"]}
    assert issues[1] == "Key already in use by another metric"
    assert issues[2] == "name must be a string"
    assert "key" in issues[3]
    assert "DOGE" in issues[5]
    assert all(issue["severity"] == "error" for issue in body["issues"])


async def test_create_with_nothing_created_is_200(env: TestEnvironment) -> None:
    response = await env.admin.post("/metrics", json=[{"name": "No key"}])
    assert response.status_code == 200
    assert response.json()["created"] == []


@pytest.mark.parametrize("body", [{}, [], "text", [{"name": "x", "key": "k"}] * 101])
async def test_whole_request_failures_are_422(env: TestEnvironment, body: object) -> None:
    assert (await env.admin.post("/metrics", json=body)).status_code == 422


async def test_list_is_oldest_first_and_paginated(env: TestEnvironment) -> None:
    for key in ("a", "b", "c"):
        await env.metric(key, key.upper())
    page = await env.admin.get("/metrics", params={"limit": 2, "skip": 1})
    assert [m["key"] for m in page.json()] == ["b", "c"]
    assert (await env.admin.get("/metrics", params={"limit": 0})).status_code == 422
    assert (await env.admin.get("/metrics", params={"limit": 101})).status_code == 422
    assert (await env.admin.get("/metrics", params={"skip": -1})).status_code == 422


async def test_update_keeps_the_key_and_checks_currency(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    missing = str(uuid.uuid4())
    response = await env.admin.patch(
        "/metrics",
        json=[
            {"id": metric["id"], "name": "Lessons done", "key": "ignored"},
            {"id": missing, "name": "x"},
            {"id": "not-a-uuid"},
            {"id": metric["id"], "unitType": "currency"},
        ],
    )
    body = response.json()
    assert body["updated"][0]["name"] == "Lessons done"
    assert body["updated"][0]["key"] == "lessons"
    messages = {issue["id"]: issue["message"] for issue in body["issues"]}
    assert messages[missing] == "Metric not found by ID"
    assert messages["not-a-uuid"] == "id must be a valid UUID"
    assert len(body["issues"]) == 3
    fetched = (await env.admin.get(f"/metrics/{metric['id']}")).json()
    assert fetched["name"] == "Lessons done"


async def test_get_one_by_id(env: TestEnvironment) -> None:
    metric = await env.metric("lessons")
    assert (await env.admin.get(f"/metrics/{metric['id']}")).json() == metric
    assert (await env.admin.get(f"/metrics/{uuid.uuid4()}")).status_code == 404
    assert (await env.admin.get("/metrics/not-a-uuid")).status_code == 422


async def test_delete_takes_repeated_or_comma_joined_ids(env: TestEnvironment) -> None:
    a, b, c = [await env.metric(k) for k in ("a", "b", "c")]
    unknown = str(uuid.uuid4())
    response = await env.admin.delete(
        "/metrics", params=[("ids", f"{a['id']},{b['id']}"), ("ids", unknown)]
    )
    body = response.json()
    assert {d["id"] for d in body["deleted"]} == {a["id"], b["id"]}
    assert body["issues"] == [
        {"id": unknown, "severity": "error", "message": "Metric not found by ID"}
    ]
    assert [m["key"] for m in (await env.admin.get("/metrics")).json()] == ["c"]
    assert (await env.admin.get(f"/metrics/{a['id']}")).status_code == 404
    assert c["key"] == "c"


async def test_delete_without_ids_is_422(env: TestEnvironment) -> None:
    response = await env.admin.delete("/metrics")
    assert response.status_code == 422
    assert response.json() == {"error": "ids is required"}


async def test_attribute_keys_are_unique_per_type(env: TestEnvironment) -> None:
    response = await env.admin.post(
        "/attributes",
        json=[
            {"name": "Plan", "key": "plan", "type": "user"},
            {"name": "Plan", "key": "plan", "type": "event"},
            {"name": "Plan again", "key": "plan", "type": "user"},
            {"name": "Bad", "key": "bad", "type": "group"},
        ],
    )
    body = response.json()
    assert [(a["key"], a["type"]) for a in body["created"]] == [("plan", "user"), ("plan", "event")]
    assert body["issues"][0] == {
        "index": 2,
        "severity": "error",
        "message": "Key already in use by another attribute of this type",
    }
    assert body["issues"][1]["index"] == 3


async def test_attributes_rename_get_and_delete(env: TestEnvironment) -> None:
    plan = await env.attribute("plan")
    renamed = await env.admin.patch(
        "/attributes", json=[{"id": plan["id"], "name": "Subscription"}]
    )
    assert renamed.json()["updated"][0] == {**plan, "name": "Subscription"}
    assert (await env.admin.get(f"/attributes/{plan['id']}")).json()["name"] == "Subscription"
    deleted = await env.admin.delete("/attributes", params={"ids": plan["id"]})
    assert deleted.json()["deleted"] == [{"id": plan["id"]}]
    assert (await env.admin.get("/attributes")).json() == []
    assert (await env.app.put("/users/ada", json={"attributes": {"plan": "x"}})).status_code == 422


async def test_configuration_is_per_scope(env: TestEnvironment) -> None:
    await env.metric("lessons")
    await env.admin.post("/tenants", json=[{"customerId": "acme", "name": "Acme"}])
    acme = env.admin.with_headers(**{"Tenant-ID": "acme"})
    assert (await acme.get("/metrics")).json() == []
    acme_app = env.app.with_headers(**{"Tenant-ID": "acme"})
    assert (
        await acme_app.post("/metrics/lessons/event", json={"user": {"id": "u"}, "value": 1})
    ).status_code == 404
