"""Keys, scopes and tenants: who may do what, and where."""

from __future__ import annotations

import uuid

from tests.support.api import ContractClient, TestEnvironment


async def _app_key(env: TestEnvironment, user_id: str) -> dict[str, str]:
    await env.app.put(f"/users/{user_id}", json={})
    response = await env.admin.post("/application-api-keys", json=[{"userId": user_id}])
    assert response.status_code == 201
    created: dict[str, str] = response.json()["created"][0]
    return created


async def test_missing_unknown_and_malformed_keys_are_401(env: TestEnvironment) -> None:
    anonymous = ContractClient(env.app.http, "app")
    assert (await anonymous.get("/users/ada")).json() == {
        "error": "Missing API key: send it in the X-API-KEY header"
    }
    for key in ("nonsense", "abcdefgh.wrong-body", env.admin_key + "x"):
        response = await anonymous.get("/users/ada", headers={"X-API-KEY": key})
        assert response.status_code == 401
    assert (await ContractClient(env.app.http, "admin").get("/metrics")).status_code == 401


async def test_application_keys_act_for_their_user_only(env: TestEnvironment) -> None:
    await env.metric("lessons")
    created = await _app_key(env, "ada")
    assert created["userId"] == "ada"
    assert created["prefix"].startswith("app_")
    assert created["key"].startswith(created["prefix"] + ".")
    ada = ContractClient(env.app.http, "app", {"X-API-KEY": created["key"]})
    assert (await ada.get("/users/ada")).status_code == 200
    own = await ada.post("/metrics/lessons/event", json={"user": {"id": "ada"}, "value": 2})
    assert own.status_code == 201
    other = await ada.post("/metrics/lessons/event", json={"user": {"id": "bob"}, "value": 2})
    assert other.status_code == 403
    assert other.json() == {"error": "API key is not authorized for this user"}
    assert (await ada.get("/users/bob")).status_code == 403
    assert (await ada.put("/users/bob", json={})).status_code == 403
    admin = ContractClient(env.app.http, "admin", {"X-API-KEY": created["key"]})
    refused = await admin.get("/metrics")
    assert refused.status_code == 403
    assert refused.json() == {"error": "Application API keys cannot be used with the Admin API"}


async def test_application_keys_need_an_existing_user_and_can_be_deleted(
    env: TestEnvironment,
) -> None:
    response = await env.admin.post("/application-api-keys", json=[{"userId": "ghost"}])
    assert response.status_code == 200
    assert response.json()["issues"][0]["message"] == "User does not exist"
    created = await _app_key(env, "ada")
    deleted = await env.admin.delete(
        "/application-api-keys", params={"ids": [created["id"], str(uuid.uuid4())]}
    )
    assert deleted.json()["deleted"] == [{"id": created["id"]}]
    assert deleted.json()["issues"][0]["message"] == "Application API key not found by ID"
    ada = ContractClient(env.app.http, "app", {"X-API-KEY": created["key"]})
    assert (await ada.get("/users/ada")).status_code == 401


async def test_admin_keys_can_be_created_revoked_reactivated_and_rotated(
    env: TestEnvironment,
) -> None:
    created = (await env.admin.post("/api-keys", json=[{"name": "deploy"}])).json()["created"][0]
    assert created["name"] == "deploy"
    assert created["key"].startswith(created["prefix"] + ".")
    assert len(created["prefix"]) == 8
    deploy = ContractClient(env.app.http, "admin", {"X-API-KEY": created["key"]})
    assert (await deploy.get("/metrics")).status_code == 200

    await env.admin.patch("/api-keys", json=[{"id": created["id"], "status": "revoked"}])
    revoked = await deploy.get("/metrics")
    assert revoked.status_code == 401
    assert revoked.json() == {"error": "API key has been revoked"}
    await env.admin.patch("/api-keys", json=[{"id": created["id"], "status": "active"}])
    assert (await deploy.get("/metrics")).status_code == 200

    rotated = (await env.admin.post(f"/api-keys/{created['id']}/rotate")).json()
    assert rotated["prefix"] != created["prefix"]
    assert (await deploy.get("/metrics")).status_code == 401
    fresh = ContractClient(env.app.http, "admin", {"X-API-KEY": rotated["key"]})
    assert (await fresh.get("/metrics")).status_code == 200

    listed = (await env.admin.get("/api-keys")).json()
    assert {k["name"] for k in listed} == {"tests", "deploy"}
    assert all("key" not in k for k in listed)
    assert next(k for k in listed if k["name"] == "deploy")["lastUsed"] is not None


async def test_a_key_cannot_delete_itself_but_can_delete_another(env: TestEnvironment) -> None:
    own_id = next(
        k["id"] for k in (await env.admin.get("/api-keys")).json() if k["name"] == "tests"
    )
    other = (await env.admin.post("/api-keys", json=[{"name": "other"}])).json()["created"][0]
    response = await env.admin.delete("/api-keys", params={"ids": [own_id, other["id"]]})
    assert response.json()["deleted"] == [{"id": other["id"]}]
    assert response.json()["issues"][0]["message"] == "A key cannot delete itself"


async def test_tenants_crud(env: TestEnvironment) -> None:
    created = await env.admin.post(
        "/tenants",
        json=[
            {"customerId": "acme", "name": "Acme"},
            {"customerId": "acme", "name": "Acme again"},
            {"customerId": "", "name": "No id"},
        ],
    )
    assert created.status_code == 201
    acme = created.json()["created"][0]
    assert acme["status"] == "active"
    issues = created.json()["issues"]
    assert issues[0] == {
        "index": 1,
        "severity": "error",
        "message": 'Customer ID "acme" already exists in this environment',
    }
    assert issues[1]["index"] == 2
    assert (await env.admin.get(f"/tenants/{acme['id']}")).json() == acme
    assert (await env.admin.get(f"/tenants/{uuid.uuid4()}")).status_code == 404
    updated = await env.admin.patch(
        "/tenants", json=[{"id": acme["id"], "name": "Acme Corp"}, {"id": acme["id"]}]
    )
    assert updated.json()["updated"][0]["name"] == "Acme Corp"
    assert updated.json()["issues"][0]["message"] == "Send customerId, name or both"
    assert [t["customerId"] for t in (await env.admin.get("/tenants")).json()] == ["acme"]


async def test_tenant_scopes_are_isolated_and_selected_by_customer_id(env: TestEnvironment) -> None:
    await env.admin.post("/tenants", json=[{"customerId": "acme", "name": "Acme"}])
    acme_admin = env.admin.with_headers(**{"Tenant-ID": "acme"})
    acme_app = env.app.with_headers(**{"Tenant-ID": "acme"})
    await acme_admin.post("/metrics", json=[{"name": "Lessons", "key": "lessons"}])
    assert (
        await acme_app.post("/metrics/lessons/event", json={"user": {"id": "ada"}, "value": 4})
    ).status_code == 201
    assert (await acme_app.get("/users/ada")).status_code == 200
    assert (await env.app.get("/users/ada")).status_code == 404
    assert (await env.admin.get("/metrics")).json() == []


async def test_unknown_renamed_and_archived_tenants_are_404(env: TestEnvironment) -> None:
    tenant = (
        await env.admin.post("/tenants", json=[{"customerId": "acme", "name": "Acme"}])
    ).json()["created"][0]
    unknown = await env.app.with_headers(**{"Tenant-ID": "nope"}).get("/users/ada")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Tenant 'nope' not found"}
    await env.admin.patch("/tenants", json=[{"id": tenant["id"], "customerId": "acme-2"}])
    assert (
        await env.app.with_headers(**{"Tenant-ID": "acme"}).put("/users/a", json={})
    ).status_code == 404
    assert (
        await env.app.with_headers(**{"Tenant-ID": "acme-2"}).put("/users/a", json={})
    ).status_code == 200
    deleted = await env.admin.delete("/tenants", params={"ids": tenant["id"]})
    assert deleted.json()["deleted"] == [{"id": tenant["id"]}]
    assert (await env.admin.get(f"/tenants/{tenant['id']}")).json()["status"] == "archived"
    assert (
        await env.app.with_headers(**{"Tenant-ID": "acme-2"}).get("/users/a")
    ).status_code == 404


async def test_an_application_key_of_a_tenant_user(env: TestEnvironment) -> None:
    await env.admin.post("/tenants", json=[{"customerId": "acme", "name": "Acme"}])
    acme_app = env.app.with_headers(**{"Tenant-ID": "acme"})
    await acme_app.put("/users/ada", json={})
    response = await env.admin.with_headers(**{"Tenant-ID": "acme"}).post(
        "/application-api-keys", json=[{"userId": "ada"}]
    )
    key = response.json()["created"][0]["key"]
    ada = ContractClient(env.app.http, "app", {"X-API-KEY": key})
    assert (await ada.get("/users/ada")).status_code == 200
    assert (await ada.with_headers(**{"Tenant-ID": "acme"}).get("/users/ada")).status_code == 200
    await env.admin.post("/tenants", json=[{"customerId": "other", "name": "Other"}])
    assert (await ada.with_headers(**{"Tenant-ID": "other"}).get("/users/ada")).status_code == 403


async def test_keys_belong_to_one_environment(env: TestEnvironment, stack: object) -> None:
    from tests.support.api import make_environment

    other = await make_environment(stack.runtime, stack.http)  # type: ignore[attr-defined]
    await other.metric("lessons")
    assert (await env.admin.get("/metrics")).json() == []
    assert (await env.event("lessons", "ada")).status_code == 404


async def test_environments_and_settings(env: TestEnvironment) -> None:
    environments = (await env.admin.get("/environments")).json()
    assert environments[0] == {"name": "Production", "key": "production", "priority": 1}
    settings = (await env.admin.get("/settings")).json()
    assert settings["experimentation"] == {"controlRatio": 0, "userActivationWindow": 7}
    updated = await env.admin.patch(
        "/settings",
        json={
            "branding": {"appName": "Acme", "logo": {"url": "https://acme.io/logo.png"}},
            "aggregationPeriod": "monthly",
        },
    )
    assert updated.status_code == 200
    assert updated.json()["branding"]["appName"] == "Acme"
    assert updated.json()["branding"]["brandColor"] == settings["branding"]["brandColor"]
    assert updated.json()["aggregationPeriod"] == "monthly"
    assert (await env.admin.patch("/settings", json={"branding": None})).status_code == 422
    assert (
        await env.admin.patch("/settings", json={"experimentation": {"controlRatio": 150}})
    ).status_code == 422
    assert (await env.admin.get("/settings")).json()["branding"]["appName"] == "Acme"
