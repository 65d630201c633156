"""Schemathesis fuzzing of both APIs on a live server, once per backend.

Every operation of `/v1/openapi.json` and `/admin/v1/openapi.json` gets its own test: cases
generated from the published schema (valid ones, and for operations that take a body or a
query, invalid ones too), aimed at seeded data (see `aim.py`), sent with the admin key to the
real `plaudit serve` process. Each response must:

- not be a server error (status < 500);
- be JSON, and on 4xx exactly `{"error": "<message>"}`;
- use 400 only where the operation declares it (schema errors are 422 elsewhere);
- match the operation's response schema in the server's own OpenAPI document.

Generation is derandomized (the same cases on every run) and sized for CI.
"""

from __future__ import annotations

import json
import os
import re
import time
from functools import cache
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup
from starlette.routing import Mount

from plaudit.api import create_app
from plaudit.core.settings import Settings
from tests.fuzz.aim import aim
from tests.fuzz.world import TENANT, World
from tests.support.server import LiveServer

# A deeper hunt, outside CI: PLAUDIT_FUZZ_SCALE=10 draws ten times as many cases, and
# PLAUDIT_FUZZ_RANDOM=true new ones at every run instead of the same fixed sequence.
FUZZ_SCALE = max(1, int(os.environ.get("PLAUDIT_FUZZ_SCALE", "1")))
FUZZ_RANDOM = os.environ.get("PLAUDIT_FUZZ_RANDOM", "").lower() == "true"
VALID_EXAMPLES = 30 * FUZZ_SCALE
INVALID_EXAMPLES = 15 * FUZZ_SCALE
# Shrinking a failure replays it many times: it gets this long per test, and
# `World.shrink_seconds_left` per backend. Then the smallest example so far is reported.
SHRINK_SECONDS_PER_TEST = 5.0
MOUNTS = {"app": "/v1", "admin": "/admin/v1"}
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def _published_operations() -> list[tuple[str, str, str, bool]]:
    """(api, METHOD, path, takes input) of every operation in both OpenAPI documents.

    Read from an in-process app (nothing is served or connected) so that each operation is a
    test of its own; `test_the_live_server_publishes_these_operations` checks the live list.
    """
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", access_log=False))
    mounted = {
        route.path: route.app
        for route in app.routes
        if isinstance(route, Mount) and isinstance(route.app, FastAPI)
    }
    found = []
    for api, mount in MOUNTS.items():
        for path, item in mounted[mount].openapi()["paths"].items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    takes_input = "requestBody" in operation or any(
                        parameter["in"] == "query" for parameter in operation.get("parameters", [])
                    )
                    found.append((api, method.upper(), path, takes_input))
    return found


OPERATIONS = _published_operations()


def _params(operations: list[tuple[str, str, str, bool]]) -> list[Any]:
    return [
        pytest.param(api, method, path, id=f"{api} {method} {path}")
        for api, method, path, _ in operations
    ]


# --- checks ---------------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:  # not `assert`: its introspection would bury the message
        raise AssertionError(message)


def json_bodies(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every response is JSON; every 4xx is exactly `{"error": "<non-empty string>"}`."""
    status = response.status_code
    content_type = (response.headers.get("content-type") or [""])[0]
    _require(
        content_type.startswith("application/json"),
        f"{status} response is {content_type or 'untyped'}, not JSON: {response.content[:200]!r}",
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{status} body is not valid JSON: {exc}") from None
    if 400 <= status < 500:
        _require(
            isinstance(body, dict)
            and set(body) == {"error"}
            and isinstance(body["error"], str)
            and bool(body["error"]),
            f'{status} body is not {{"error": "<message>"}}: {body!r}',
        )


def schema_errors_use_declared_codes(ctx: CheckContext, response: Response, case: Case) -> None:
    """400 only from operations that declare it; the others answer 422 (see core/http.py)."""
    declared = case.operation.responses.status_codes
    _require(
        response.status_code != 400 or "400" in declared,
        f"400 from an operation that declares only {', '.join(declared)}: "
        f"{response.content[:200]!r}",
    )


CHECKS = [
    not_a_server_error,
    json_bodies,
    schema_errors_use_declared_codes,
    response_schema_conformance,
]


# --- failures -----------------------------------------------------------------------------


def _exceptions(log: str) -> list[tuple[str, str]]:
    """(kind, description) of each exception the server logged: the kind is its type and
    where in plaudit it was raised, the description adds its message."""
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        trace = record.get("exception") if isinstance(record, dict) else None
        if not isinstance(trace, str):
            continue
        frames = re.findall(r'File "[^"]*/src/(plaudit/[^"]+)", line (\d+), in (\w+)', trace)
        where = f"{frames[-1][0]}:{frames[-1][1]} in {frames[-1][2]}" if frames else "?"
        raised = [ln for ln in trace.splitlines() if re.match(r"[\w.]+(Error|Exception)\b", ln)]
        last = (raised or trace.splitlines())[-1]
        found.append((f"{last.split(':', 1)[0]} at {where}", f"{last[:300]} ({where})"))
    return found


def _server_exception(live: LiveServer, offset: int) -> tuple[str, str]:
    """The first exception the server logged after `offset` (it logs after answering)."""
    deadline = time.monotonic() + 2
    while True:
        with live.log_path.open("rb") as log:
            log.seek(offset)
            found = _exceptions(log.read().decode(errors="replace"))
        if found or time.monotonic() > deadline:
            return found[0] if found else ("unlogged", "no exception in the server log")
        time.sleep(0.02)


@cache
def _failure_kind(key: str) -> type[AssertionError]:
    """One exception class per kind of failure, so Hypothesis tells the bugs apart."""
    return type(f"Fuzz failure [{key}]", (AssertionError,), {})


def _raise_plain(group: FailureGroup, response: Response, live: LiveServer, offset: int) -> None:
    """Re-raise schemathesis' failures as one AssertionError subclass per kind of failure.

    Hypothesis does not shrink an ExceptionGroup raised by the test, and a server error's
    kind is best told by the exception the server logged for it.
    """
    __tracebackhide__ = True
    kinds = sorted({failure.title for failure in group.exceptions})
    message = str(group)
    if response.status_code >= 500:
        kind, cause = _server_exception(live, offset)
        kinds = [f"{response.status_code}: {kind}"]
        message += f"\nServer log: {cause}"
    raise _failure_kind("; ".join(kinds))(message) from None


# --- fuzzing --------------------------------------------------------------------------------


def fuzz(world: World, api: str, method: str, path: str, mode: GenerationMode, count: int) -> None:
    __tracebackhide__ = True
    operation = world.schema(api)[path][method.lower()]
    base_url = world.api_url(api)
    positive = mode is GenerationMode.POSITIVE
    failing_since: list[float] = []

    def out_of_shrinking_time() -> bool:
        if not failing_since or current_build_context().is_final:
            return False  # still generating, or replaying the failure to report it
        budget = min(SHRINK_SECONDS_PER_TEST, world.shrink_seconds_left)
        return time.monotonic() - failing_since[0] > budget

    @settings(
        max_examples=count,
        derandomize=not FUZZ_RANDOM,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case: Case, data: st.DataObject) -> None:
        __tracebackhide__ = True
        aim(case, data.draw, world, positive=positive)  # the same draws either way
        if out_of_shrinking_time():
            return  # counts as passing, so Hypothesis stops trying smaller examples
        offset = world.live.log_path.stat().st_size
        response = case.call(
            base_url=base_url, session=world.session, headers=world.admin_headers, timeout=30
        )
        try:
            case.validate_response(response, checks=CHECKS, headers=world.admin_headers)
        except FailureGroup as group:
            failing_since[:1] = failing_since[:1] or [time.monotonic()]
            _raise_plain(group, response, world.live, offset)

    try:
        check()
    finally:
        if failing_since:
            spent = time.monotonic() - failing_since[0]
            world.shrink_seconds_left = max(0.0, world.shrink_seconds_left - spent)


@pytest.mark.parametrize(("api", "method", "path"), _params(OPERATIONS))
def test_valid_requests(world: World, api: str, method: str, path: str) -> None:
    fuzz(world, api, method, path, GenerationMode.POSITIVE, VALID_EXAMPLES)


@pytest.mark.parametrize(("api", "method", "path"), _params([o for o in OPERATIONS if o[3]]))
def test_invalid_requests(world: World, api: str, method: str, path: str) -> None:
    fuzz(world, api, method, path, GenerationMode.NEGATIVE, INVALID_EXAMPLES)


def test_the_live_server_publishes_these_operations(world: World) -> None:
    for api in MOUNTS:
        published = {
            (result.ok().method.upper(), result.ok().path)
            for result in world.schema(api).get_all_operations()
        }
        assert published == {(m, p) for a, m, p, _ in OPERATIONS if a == api}


def test_generated_requests_reach_the_mounted_apis(world: World) -> None:
    """The documents' `servers` are relative (`/v1`, `/admin/v1`): requests must carry them."""
    for api, path, expected in (
        ("app", "/users/{id}", f"{world.live.app_url}/users/u1"),
        ("admin", "/metrics", f"{world.live.admin_url}/metrics"),
    ):
        case = world.schema(api)[path]["get"].Case(
            path_parameters={"id": "u1"} if "{id}" in path else {}
        )
        # No base_url: the schema's own, from its location and its relative server.
        response = case.call(
            session=world.session, headers={**world.admin_headers, "Tenant-ID": TENANT}
        )
        assert response.request.url == expected
        assert response.status_code == 200, response.content
