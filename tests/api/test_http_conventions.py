"""Probes, metrics, request ids, body limits, error bodies, OpenAPI documents, rate limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Stack, running_stack
from tests.support.api import ContractClient, TestEnvironment, make_environment
from tests.support.contract import require_contract
from tests.support.services import REDIS_URL, missing_service, redis_reachable


async def test_health_readiness_and_metrics(stack: Stack, env: TestEnvironment) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    assert (await stack.http.get("/readyz")).json() == {"status": "ready"}
    await env.metric("lessons")
    await env.event("lessons", "ada")
    metrics = (await stack.http.get("/metrics")).text
    assert (
        'plaudit_http_requests_total{method="POST",route="/v1/metrics/{key}/event",status="201"}'
        in metrics
    )
    assert 'plaudit_events_total{outcome="recorded"}' in metrics


async def test_request_ids_are_echoed_or_made(stack: Stack) -> None:
    given = await stack.http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await stack.http.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32


async def test_unknown_paths_and_methods_answer_json_errors(env: TestEnvironment) -> None:
    assert (await env.app.get("/no/such/thing")).json() == {"error": "No such endpoint"}
    wrong_method = await env.app.delete("/users/ada")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


async def test_bodies_over_the_limit_are_413(env: TestEnvironment) -> None:
    await env.metric("lessons")
    padding = "x" * (1 << 20)
    response = await env.app.post(
        "/metrics/lessons/event", json={"user": {"id": "ada", "name": padding}, "value": 1}
    )
    assert response.status_code == 413
    assert response.json()["error"].startswith("Request body exceeds")


async def test_the_api_alias_serves_the_application_api(stack: Stack, env: TestEnvironment) -> None:
    await env.app.put("/users/ada", json={})
    response = await stack.http.get("/api/users/ada", headers={"X-API-KEY": env.admin_key})
    assert response.json()["id"] == "ada"


async def test_each_api_publishes_its_openapi_document(stack: Stack) -> None:
    contract = require_contract()
    for path, name in (
        ("/v1/openapi.json", "application.json"),
        ("/admin/v1/openapi.json", "admin.json"),
    ):
        ours = (await stack.http.get(path)).json()
        assert ours["openapi"].startswith("3.1")
        assert ours["info"]["version"] == "1.27.0"
        operations = {
            op["operationId"]
            for item in ours["paths"].values()
            for op in item.values()
            if "operationId" in op
        }
        theirs = json.loads((contract / name).read_text())
        later = {"streak", "points", "leaderboard", "wrapped"}
        expected = {
            op["operationId"]
            for template, item in theirs["paths"].items()
            for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")
            and not any(part in template for part in later)
        }
        assert expected <= operations, sorted(expected - operations)
        assert "ApiKeyAuth" in ours["components"]["securitySchemes"]


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(
        "sqlite",
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_tier1="3/minute",
        rate_limit_tier2="5/minute",
    ) as stack:
        yield stack


async def test_rate_limits_answer_429_with_retry_after(limited: Stack) -> None:
    env = await make_environment(limited.runtime, limited.http)
    # Tier 1 (the whole Admin API) allows 3 requests per endpoint: GET /metrics is one.
    await env.metric("lessons")
    assert (await env.admin.get("/metrics")).headers["x-ratelimit-remaining"] == "2"
    await env.admin.get("/metrics")
    await env.admin.get("/metrics")
    refused = await limited.http.get("/admin/v1/metrics", headers={"X-API-KEY": env.admin_key})
    assert refused.status_code == 429
    assert refused.json() == {"error": "Rate limit exceeded"}
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit"] == "3"
    # Tier 2 endpoints have a budget of their own, per endpoint.
    app = ContractClient(limited.http, "app", {"X-API-KEY": env.admin_key})
    assert (await app.put("/users/ada", json={})).headers["x-ratelimit-limit"] == "5"


@pytest.mark.redis
async def test_rate_limits_are_shared_through_redis(tmp_path: Path) -> None:
    problem = await redis_reachable()
    if problem:
        missing_service("Redis", problem)
    settings = {
        "rate_limit_enabled": True,
        "rate_limit_tier1": "2/minute",
        "redis_url": REDIS_URL,
    }
    async with (
        running_stack("sqlite", tmp_path / "a", **settings) as first,
        running_stack("sqlite", tmp_path / "b", **settings) as second,
    ):
        assert first.runtime.limiter is not None
        await first.runtime.limiter.storage.reset()
        statuses = []
        for stack in (first, second, first, second):
            env = await make_environment(stack.runtime, stack.http)
            response = await stack.http.get(
                "/admin/v1/metrics", headers={"X-API-KEY": env.admin_key}
            )
            statuses.append(response.status_code)
    assert statuses == [200, 200, 429, 429]


async def test_rate_limits_are_off_by_default(env: TestEnvironment, stack: Stack) -> None:
    assert stack.runtime.limiter is None
    response = await env.admin.get("/metrics")
    assert "x-ratelimit-limit" not in response.headers


async def test_probes_do_not_need_a_key(stack: Stack) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://x"
    ) as client:
        assert (await client.get("/readyz")).status_code == 200
