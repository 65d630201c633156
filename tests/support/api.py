"""An HTTP client for the API tests that checks every response against the contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from sqlalchemy import insert

from plaudit.core.clock import utcnow
from plaudit.platform.api_keys import insert_admin_key
from plaudit.platform.tables import environments
from plaudit.platform.tenants import insert_scope
from plaudit.runtime import Runtime
from tests.support.contract import check_response, check_sdk_only

Api = Literal["app", "admin"]
_BASES = {"app": "/v1", "admin": "/admin/v1"}


@dataclass
class ContractClient:
    http: httpx.AsyncClient
    api: Api
    headers: dict[str, str] = field(default_factory=dict)

    def with_headers(self, **headers: str) -> ContractClient:
        merged = {**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}}
        return ContractClient(self.http, self.api, merged)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.http.request(
            method, _BASES[self.api] + path, headers=headers, **kwargs
        )
        assert response.headers.get("content-type", "").startswith("application/json"), (
            f"{method} {path} answered {response.status_code} without a JSON body: "
            f"{response.text[:200]}"
        )
        body = response.json()
        assert response.status_code < 500, (
            f"{method} {path} answered {response.status_code}: {body}"
        )
        if response.status_code >= 400:
            assert isinstance(body, dict), body
            assert isinstance(body.get("error"), str), body
        bare = path.split("?", 1)[0]
        check_response(self.api, method, bare, response.status_code, body)
        check_sdk_only(self.api, method, bare, response.status_code, body)
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


@dataclass
class TestEnvironment:
    """A fresh environment (own scope, own admin key): tests never see each other's data."""

    __test__ = False

    environment_id: uuid.UUID
    key: str
    scope_id: int
    admin_key: str
    admin: ContractClient
    app: ContractClient

    async def metric(
        self, key: str = "lessons", name: str = "Lessons", **extra: Any
    ) -> dict[str, Any]:
        response = await self.admin.post("/metrics", json=[{"name": name, "key": key, **extra}])
        assert response.status_code == 201, response.json()
        return response.json()["created"][0]  # type: ignore[no-any-return]

    async def attribute(self, key: str, type_: str = "user") -> dict[str, Any]:
        response = await self.admin.post(
            "/attributes", json=[{"name": key.title(), "key": key, "type": type_}]
        )
        assert response.status_code == 201, response.json()
        return response.json()["created"][0]  # type: ignore[no-any-return]

    async def event(
        self, metric: str, user: str | dict[str, Any], value: float = 1, **kwargs: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "user": {"id": user} if isinstance(user, str) else user,
            "value": value,
        }
        body.update(kwargs.pop("body", {}))
        return await self.app.post(f"/metrics/{metric}/event", json=body, **kwargs)


async def make_environment(runtime: Runtime, http: httpx.AsyncClient) -> TestEnvironment:
    now = utcnow()
    env_id = uuid.uuid4()
    key = f"test-{env_id.hex[:10]}"
    async with runtime.db.transaction() as conn:
        await conn.execute(
            insert(environments).values(
                id=env_id,
                key=key,
                name=f"Test {key}",
                type="development",
                priority=100,
                status="active",
                created=now,
                updated=now,
            )
        )
        scope_id = await insert_scope(conn, env_id, None, now)
        _row, admin_key = await insert_admin_key(conn, env_id, "tests", now)
    headers = {"X-API-KEY": admin_key}
    return TestEnvironment(
        environment_id=env_id,
        key=key,
        scope_id=scope_id,
        admin_key=admin_key,
        admin=ContractClient(http, "admin", headers),
        app=ContractClient(http, "app", headers),
    )
