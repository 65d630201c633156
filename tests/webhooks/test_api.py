"""`/admin/v1/webhooks`: subscriptions, secrets, destination checks, errors."""

from __future__ import annotations

from tests.support.api import TestEnvironment


async def test_the_secret_is_shown_on_create_and_rotation_only(env: TestEnvironment) -> None:
    response = await env.admin.post(
        "/webhooks",
        json=[{"name": "CRM", "url": "https://hooks.example.com/plaudit", "events": []}],
    )
    assert response.status_code == 201, response.json()
    [created] = response.json()["created"]
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    assert created["events"] == []
    shown = (await env.admin.get(f"/webhooks/{created['id']}")).json()
    assert "secret" not in shown
    assert shown["name"] == "CRM"
    listed = (await env.admin.get("/webhooks")).json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert all("secret" not in w for w in listed)
    rotated = (await env.admin.post(f"/webhooks/{created['id']}/rotate-secret")).json()
    assert rotated["id"] == created["id"]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]


async def test_update_and_delete(env: TestEnvironment) -> None:
    [created] = (
        await env.admin.post("/webhooks", json=[{"url": "https://a.example.com/h"}])
    ).json()["created"]
    patched = await env.admin.patch(
        "/webhooks",
        json=[
            {"id": created["id"], "events": ["achievement.completed"], "status": "inactive"},
            {"id": "00000000-0000-0000-0000-000000000000", "status": "active"},
            {"id": created["id"], "status": "disabled"},
        ],
    )
    body = patched.json()
    assert [(w["events"], w["status"]) for w in body["updated"]] == [
        (["achievement.completed"], "inactive")
    ]
    assert len(body["issues"]) == 2
    deleted = await env.admin.delete("/webhooks", params={"ids": created["id"]})
    assert deleted.json()["deleted"] == [{"id": created["id"]}]
    assert (await env.admin.get(f"/webhooks/{created['id']}")).status_code == 404
    assert (await env.admin.get(f"/webhooks/{created['id']}/deliveries")).status_code == 404


async def test_destinations_are_checked(env: TestEnvironment) -> None:
    response = await env.admin.post(
        "/webhooks",
        json=[
            {"url": "http://127.0.0.1:9/hook"},  # loopback: only with the setting on
            {"url": "http://169.254.169.254/latest/meta-data"},  # cloud metadata: never
            {"url": "ftp://example.com/x"},
            {"url": "https://example.com/x", "events": ["no.such_event"]},
            {"url": "http://10.0.0.8/hook"},
            {"url": "https://example.com/ok"},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert [w["url"] for w in body["created"]] == ["https://example.com/ok"]
    assert [issue["index"] for issue in body["issues"]] == [0, 1, 2, 3, 4]
    messages = " ".join(issue["message"] for issue in body["issues"])
    assert "loopback" in messages
    assert "never called" in messages
    assert "no.such_event" in messages


async def test_bad_requests_are_4xx(env: TestEnvironment) -> None:
    assert (await env.admin.post("/webhooks", json={"url": "x"})).status_code == 422
    assert (await env.admin.get("/webhooks/not-a-uuid")).status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await env.admin.post(f"/webhooks/{missing}/test")).status_code == 404
    assert (await env.admin.post(f"/webhooks/{missing}/rotate-secret")).status_code == 404
    bad_status = await env.admin.get(f"/webhooks/{missing}/deliveries", params={"status": "x"})
    assert bad_status.status_code in (400, 422)
    assert (await env.admin.get("/webhooks/deliveries/nope")).status_code == 422
