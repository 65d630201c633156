"""The data the fuzzer aims at: a tenant of its own, seeded with metrics, attributes and a user.

Generated requests act in the tenant `fuzz` (sent as `Tenant-ID`), so nothing they create or
change (metrics, attributes, settings, users) leaks into the environment's own scope, which
other tests on the same live server use. Environment-wide resources (tenants, admin keys) can
only be shared; the fuzzer aims its writes at sacrificial ones (`fuzz-victim`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from schemathesis import BaseSchema

from tests.support.server import LiveServer

TENANT = "fuzz"
VICTIM_TENANT = "fuzz-victim"
USER = "u1"
# `doomed` is the metric (and user attribute) that DELETE requests may archive.
METRICS = ("lessons", "words", "doomed")
ATTRIBUTES = (("plan", "user"), ("source", "event"), ("doomed", "user"))


class SeedError(AssertionError):
    pass


@dataclass(repr=False)
class World:
    """Ids of the seeded resources on one live server, put back before each test."""

    live: LiveServer
    http: httpx.Client
    tenant_id: str = ""
    victim_tenant_id: str = ""
    victim_key_id: str = ""
    application_key_id: str = ""
    metric_ids: dict[str, str] = field(default_factory=dict)
    attribute_ids: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    # How long failures found on this server may still be shrunk (see test_schemathesis.py).
    shrink_seconds_left: float = 30.0
    schemas: dict[str, BaseSchema] = field(default_factory=dict)

    def api_url(self, api: str) -> str:
        return self.live.app_url if api == "app" else self.live.admin_url

    def schema(self, api: str) -> BaseSchema:
        """The OpenAPI document the live server publishes for `api` ("app" or "admin")."""
        if api not in self.schemas:
            config = schemathesis.Config.from_dict(
                {
                    # The admin key is sent on every request; do not generate X-API-KEY values.
                    "generation": {"with-security-parameters": False},
                    # Failure reports hide the key, and nothing else (such as a metric's `key`).
                    "output": {
                        "sanitization": {
                            "keys-to-sanitize": ["x-api-key"],
                            "sensitive-markers": ["x-api-key"],  # [] means the defaults
                        }
                    },
                }
            )
            self.schemas[api] = schemathesis.openapi.from_url(
                f"{self.api_url(api)}/openapi.json", config=config, timeout=30
            )
        return self.schemas[api]

    def close(self) -> None:
        self.session.close()
        self.http.close()

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.live.admin_key}

    def call(self, method: str, path: str, *, tenant: bool = True, **kwargs: Any) -> Any:
        headers = {**self.admin_headers, **({"Tenant-ID": TENANT} if tenant else {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code not in (200, 201, 202):
            raise SeedError(
                f"seeding: {method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def list_all(self, path: str, *, tenant: bool = True) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, tenant=tenant, params={"limit": 100, "skip": len(rows)})
            rows.extend(page)
            if len(page) < 100:
                return rows

    def create_tenants(self) -> None:
        """Once per server: the fuzzer's tenant and the one it may archive and rename."""
        wanted = {TENANT: "Fuzz", VICTIM_TENANT: "Fuzz victim"}
        items = [{"customerId": key, "name": name} for key, name in wanted.items()]
        self.call("POST", "/admin/v1/tenants", tenant=False, json=items)
        found = {
            row["customerId"]: row["id"] for row in self.list_all("/admin/v1/tenants", tenant=False)
        }
        if not set(wanted) <= set(found):
            raise SeedError(f"seeding: tenants {sorted(wanted)} missing from {sorted(found)}")
        self.tenant_id = found[TENANT]
        self.victim_tenant_id = found[VICTIM_TENANT]

    def refresh(self) -> None:
        """Before each test: put back what the previous one archived, deleted or changed."""
        self._ensure_metrics()
        self._ensure_attributes()
        self.call(
            "PUT",
            f"/v1/users/{USER}",
            json={
                "name": "Ada",
                "email": "ada@example.com",
                "tz": "Europe/London",
                "subscribeToEmails": True,
                "signUpDate": "2024-02-29",
                "attributes": {"plan": "pro", "doomed": "soon"},
            },
        )
        headers = {**self.admin_headers, "Tenant-ID": TENANT}
        event = {"user": {"id": USER}, "value": 2.5, "attributes": {"source": "web"}}
        response = self.http.post("/v1/metrics/lessons/event", headers=headers, json=event)
        # 422: an earlier test pushed the user's total to the edge of the supported range.
        if response.status_code not in (201, 422):
            raise SeedError(f"seeding: event answered {response.status_code}: {response.text}")
        self.call(
            "PATCH", f"/v1/users/{USER}/preferences", json={"notifications": {"recap": ["email"]}}
        )
        self._ensure_victim_key()
        created = self.call("POST", "/admin/v1/application-api-keys", json=[{"userId": USER}])
        self.application_key_id = created["created"][0]["id"]

    def _still_there(self, path: str, item_id: str | None) -> bool:
        if item_id is None:
            return False
        headers = {**self.admin_headers, "Tenant-ID": TENANT}
        return self.http.get(f"{path}/{item_id}", headers=headers).status_code == 200

    def _ensure_metrics(self) -> None:
        missing = [
            k for k in METRICS if not self._still_there("/admin/v1/metrics", self.metric_ids.get(k))
        ]
        if not missing:
            return
        self.call(
            "POST", "/admin/v1/metrics", json=[{"name": k.title(), "key": k} for k in missing]
        )
        active = {row["key"]: row["id"] for row in self.list_all("/admin/v1/metrics")}
        for key in missing:
            self.metric_ids[key] = active[key]

    def _ensure_attributes(self) -> None:
        path = "/admin/v1/attributes"
        missing = [
            (key, kind)
            for key, kind in ATTRIBUTES
            if not self._still_there(path, self.attribute_ids.get(key))
        ]
        if not missing:
            return
        items = [{"name": key.title(), "key": key, "type": kind} for key, kind in missing]
        self.call("POST", path, json=items)
        active = {(row["key"], row["type"]): row["id"] for row in self.list_all(path)}
        for key, kind in missing:
            self.attribute_ids[key] = active[(key, kind)]

    def _ensure_victim_key(self) -> None:
        """An admin key the fuzzer may rename, revoke, rotate and delete (never its own)."""
        if self.victim_key_id:
            revived = self.call(
                "PATCH",
                "/admin/v1/api-keys",
                tenant=False,
                json=[{"id": self.victim_key_id, "status": "active"}],
            )
            if revived["updated"]:
                return
        created = self.call("POST", "/admin/v1/api-keys", tenant=False, json=[{"name": "victim"}])
        self.victim_key_id = created["created"][0]["id"]
