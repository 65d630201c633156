"""Edge cases the fuzzer found (or that fuzzing cannot reach), replayed on every run.

Derandomized fuzzing only covers what its seed happens to generate; these requests are the
boundaries that have broken the server before: dates at the ends of the calendar, offsets
beyond 64 bits, NUL characters (which PostgreSQL text and JSONB refuse), bodies that are not
UTF-8, and event totals whose partial sums leave the 64-bit range. Each must be answered
like any other request: below 500, with a JSON body, a 4xx being `{"error": "<message>"}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from plaudit.metrics.rules import MAX_VALUE
from tests.fuzz.world import TENANT, World

SUMMARY = "/v1/users/{user}/metrics/lessons/event-summary?aggregation={unit}"
BEFORE_YEAR_ONE = "0001-01-01T00:00:00+01:00"  # 31 December of year 0 in UTC
AFTER_YEAR_9999 = "9999-12-31T23:00:00-02:00"  # 1 January of year 10000 in UTC
NOT_UTF8 = b'{"name": "\xff\xfe"}'


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    json: Any = None  # or a function of the seeded world
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # when one status is the right answer


def summary(unit: str, start: str, end: str, user: str = "u1") -> str:
    return SUMMARY.format(user=user, unit=unit) + f"&startDate={start}&endDate={end}"


def rename(pool: str, key: str | None = None) -> Callable[[World], Any]:
    """A bulk update body that names a seeded resource "\\0"."""

    def body(world: World) -> Any:
        ids = getattr(world, pool)
        return [{"id": ids[key] if key else ids, "name": "\u0000"}]

    return body


def nul_event(**fields: Any) -> dict[str, Any]:
    return {"user": {"id": "edge-nul", **fields.pop("user", {})}, "value": 1, **fields}


PROBES = {
    # Event summaries whose periods start or end outside year 1 … 9999.
    "summary-daily-9999-12-31": Probe("GET", summary("daily", "9999-12-31", "9999-12-31")),
    "summary-monthly-9999-12": Probe("GET", summary("monthly", "9999-12-01", "9999-12-31")),
    "summary-weekly-0001-01-01": Probe("GET", summary("weekly", "0001-01-01", "0001-01-07")),
    "summary-0001-01-01-in-utc+14": Probe(
        "GET", summary("daily", "0001-01-01", "0001-01-01", user="edge-east")
    ),
    # Sums of stored values beyond 64 bits (see `_store_events_with_huge_partial_sums`).
    "summary-over-64-bit-partial-sums": Probe(
        "GET", summary("daily", "2000-01-01", "2000-01-01", user="edge-sum")
    ),
    # signUpDate date-times whose UTC day is outside year 1 … 9999.
    "sign-up-before-year-1-put": Probe(
        "PUT", "/v1/users/edge-signup", json={"signUpDate": BEFORE_YEAR_ONE}
    ),
    "sign-up-after-year-9999-patch": Probe(
        "PATCH", "/v1/users/u1", json={"signUpDate": AFTER_YEAR_9999}
    ),
    "sign-up-before-year-1-create": Probe(
        "POST", "/v1/users", json={"id": "edge-signup-2", "signUpDate": BEFORE_YEAR_ONE}
    ),
    "sign-up-before-year-1-event": Probe(
        "POST",
        "/v1/metrics/lessons/event",
        json={"user": {"id": "edge-signup-3", "signUpDate": BEFORE_YEAR_ONE}, "value": 1},
    ),
    "sign-up-before-year-1-batch": Probe(
        "POST",
        "/admin/v1/metrics/events",
        json=[{"key": "lessons", "user": {"id": "u1", "signUpDate": BEFORE_YEAR_ONE}, "value": 1}],
    ),
    # Offsets beyond a 64-bit integer (skip has no maximum in the schema).
    **{
        f"skip-2**63-{name}": Probe("GET", f"/admin/v1/{name}?skip=9223372036854775808")
        for name in ("metrics", "attributes", "tenants", "api-keys")
    },
    # NUL characters in strings that are stored or looked up.
    "nul-user-id-path": Probe("GET", "/v1/users/a%00b"),
    "nul-user-id-body": Probe("POST", "/v1/users", json={"id": "a\u0000b"}),
    "nul-user-name": Probe("PUT", "/v1/users/edge-nul", json={"name": "a\u0000b"}),
    "nul-user-attribute": Probe("PATCH", "/v1/users/u1", json={"attributes": {"plan": "\u0000"}}),
    "nul-event-user-id": Probe(
        "POST", "/v1/metrics/lessons/event", json=nul_event(user={"id": "\u0000"})
    ),
    "nul-event-attribute": Probe(
        "POST", "/v1/metrics/lessons/event", json=nul_event(attributes={"source": "\u0000"})
    ),
    "nul-batch-user-id": Probe(
        "POST",
        "/admin/v1/metrics/events",
        json=[{"key": "lessons", "user": {"id": "\u0000"}, "value": 1}],
    ),
    "nul-batch-idempotency-key": Probe(
        "POST",
        "/admin/v1/metrics/events",
        json=[{"key": "lessons", "user": {"id": "u1"}, "value": 1, "idempotencyKey": "\u0000"}],
    ),
    "nul-metric-name": Probe("POST", "/admin/v1/metrics", json=[{"name": "\u0000", "key": "edge"}]),
    "nul-attribute-name": Probe(
        "POST", "/admin/v1/attributes", json=[{"name": "\u0000", "key": "edge", "type": "user"}]
    ),
    "nul-tenant-customer-id": Probe(
        "POST", "/admin/v1/tenants", json=[{"customerId": "\u0000", "name": "Edge"}]
    ),
    "nul-admin-key-name": Probe("POST", "/admin/v1/api-keys", json=[{"name": "\u0000"}]),
    "nul-application-key-user": Probe(
        "POST", "/admin/v1/application-api-keys", json=[{"userId": "\u0000"}]
    ),
    "nul-metric-rename": Probe("PATCH", "/admin/v1/metrics", json=rename("metric_ids", "lessons")),
    "nul-attribute-rename": Probe(
        "PATCH", "/admin/v1/attributes", json=rename("attribute_ids", "plan")
    ),
    "nul-tenant-rename": Probe("PATCH", "/admin/v1/tenants", json=rename("victim_tenant_id")),
    "nul-admin-key-rename": Probe("PATCH", "/admin/v1/api-keys", json=rename("victim_key_id")),
    "nul-settings-app-name": Probe(
        "PATCH", "/admin/v1/settings", json={"branding": {"appName": "\u0000"}}
    ),
    # Bodies that are not UTF-8: a schema error, 422 where the operation declares no 400.
    "not-utf8-settings": Probe("PATCH", "/admin/v1/settings", content=NOT_UTF8, status=422),
    "not-utf8-preferences": Probe(
        "PATCH", "/v1/users/u1/preferences", content=NOT_UTF8, status=422
    ),
}


def check(response: Any, probe: Probe) -> None:
    status = response.status_code
    assert status < 500, f"{probe.method} {probe.path} answered {status}: {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{status} is not JSON: {response.text[:300]}"
    )
    body = response.json()
    if 400 <= status < 500:
        assert isinstance(body, dict), body
        assert set(body) == {"error"}, body
        assert isinstance(body["error"], str), body
    if probe.status is not None:
        assert status == probe.status, f"expected {probe.status}, got {status}: {body}"


def send(world: World, probe: Probe) -> Any:
    headers = {**world.admin_headers, "Tenant-ID": TENANT, **probe.headers}
    if probe.content is not None:
        headers["Content-Type"] = "application/json"
    body = probe.json(world) if callable(probe.json) else probe.json
    return world.http.request(
        probe.method, probe.path, headers=headers, json=body, content=probe.content
    )


def _prepare(world: World, name: str) -> None:
    if name == "summary-0001-01-01-in-utc+14":
        world.call("PUT", "/v1/users/edge-east", json={"tz": "Etc/GMT-14"})
    elif name == "summary-over-64-bit-partial-sums":
        _store_events_with_huge_partial_sums(world, "edge-sum")


def _store_events_with_huge_partial_sums(world: World, user: str) -> None:
    """+MAX, +MAX, -MAX, -MAX in one batch: accepted (the batch adds up to 0), though the
    user's running total would reach 2 x MAX after the second event (that item is skipped)."""
    values = [MAX_VALUE, MAX_VALUE, -MAX_VALUE, -MAX_VALUE]
    batch = [{"key": "lessons", "user": {"id": user}, "value": v} for v in values]
    world.call("POST", "/admin/v1/metrics/events", json=batch)
    deadline = time.monotonic() + 30
    headers = {**world.admin_headers, "Tenant-ID": TENANT}
    while world.http.get(f"/v1/users/{user}", headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "the worker did not process the batch"
        time.sleep(0.1)


@pytest.mark.parametrize("name", list(PROBES))
def test_edge_case(world: World, name: str) -> None:
    _prepare(world, name)
    probe = PROBES[name]
    check(send(world, probe), probe)
