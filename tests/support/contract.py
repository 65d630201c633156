"""Checks every response the API tests receive against the contract our users compile against.

1. The OpenAPI documents of the hosted service (version 1.21.1, in the shared contract
   folder): the response body must validate against the operation's schema for its status
   (a 202 replay against the 201 schema; undeclared error codes against ErrorBody).
2. The official Python SDK 1.27.0 models for what that SDK added (settings, environments)
   and for every operation it parses: the body must parse into the SDK's model.

The contract folder is found through PLAUDIT_CONTRACT_DIR, `../shared/openapi` next to the
checkout, or `/work/shared/openapi`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.services import IN_CI

_CANDIDATES = [
    os.environ.get("PLAUDIT_CONTRACT_DIR", ""),
    str(Path(__file__).resolve().parents[2].parent / "shared" / "openapi"),
    "/work/shared/openapi",
]


@cache
def contract_dir() -> Path | None:
    for candidate in _CANDIDATES:
        if candidate and (Path(candidate) / "application.json").is_file():
            return Path(candidate)
    return None


def require_contract() -> Path:
    found = contract_dir()
    if found is None:
        message = "the OpenAPI contract folder was not found (set PLAUDIT_CONTRACT_DIR)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Operation:
    pattern: re.Pattern[str]
    template: str
    method: str
    responses: dict[str, Any]


@cache
def _document(api: str) -> dict[str, Any]:
    folder = require_contract()
    name = "application.json" if api == "app" else "admin.json"
    document: dict[str, Any] = json.loads((folder / name).read_text())
    _apply_sdk_127_additions(document)
    return document


def _apply_sdk_127_additions(document: dict[str, Any]) -> None:
    """What SDK 1.27.0 adds to the 1.21.1 documents (it wins where they differ)."""
    schemas = document.get("components", {}).get("schemas", {})
    achievement = schemas.get("AchievementResponse")
    if achievement is not None:
        achievement["properties"]["trigger"]["enum"].append("anniversary")
        achievement["properties"]["anniversaryYears"] = {"type": ["integer", "null"]}
    board = schemas.get("LeaderboardResponse")
    if board is not None:
        # leaderboards.md §1 (PROPOSED): null for boards of another kind; the SDK's fields
        # are optional.
        for name in ("metricKey", "metricName", "pointsSystemKey", "pointsSystemName"):
            board["properties"][name]["type"] = ["string", "null"]
        board["properties"]["userAttributes"] = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
                "required": ["key", "value"],
            },
        }
        board.setdefault("required", []).append("userAttributes")


@cache
def _registry(api: str) -> Registry:
    resource = Resource.from_contents(_document(api), default_specification=DRAFT202012)
    return Registry().with_resource(f"urn:{api}", resource)


@cache
def _operations(api: str) -> list[Operation]:
    operations = []
    for template, item in _document(api)["paths"].items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append(
                    Operation(
                        re.compile(regex), template, method.upper(), operation.get("responses", {})
                    )
                )
    # Literal segments win over parameters (/metrics/events before /metrics/{id}).
    operations.sort(key=lambda op: op.template.count("{"))
    return operations


def _find(api: str, method: str, path: str) -> Operation | None:
    for operation in _operations(api):
        if operation.method == method and operation.pattern.match(path):
            return operation
    return None


def _schema_for(api: str, operation: Operation, status: int) -> dict[str, Any] | None:
    key = str(status)
    if key not in operation.responses and status == 202 and "201" in operation.responses:
        key = "201"  # an idempotent replay carries the created shape
    response = operation.responses.get(key)
    if response is None:
        if status >= 400:
            error = "ErrorBody" if api == "app" else "AdminErrorBody"
            return {"$ref": f"urn:{api}#/components/schemas/{error}"}
        return None
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    return _rebase(schema, api)


def _rebase(schema: Any, api: str) -> Any:
    if isinstance(schema, dict):
        return {
            key: (
                f"urn:{api}{value}"
                if key == "$ref" and value.startswith("#")
                else _rebase(value, api)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item, api) for item in schema]
    return schema


class ContractViolation(AssertionError):
    pass


def check_response(api: str, method: str, path: str, status: int, body: Any) -> str | None:
    """Validate one response; returns the template it matched (None when not in the spec)."""
    operation = _find(api, method, path)
    if operation is None:
        return None
    if status == 429 or status >= 500:
        raise ContractViolation(f"{method} {path} answered {status}: {body!r}")
    schema = _schema_for(api, operation, status)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(
            schema,
            registry=_registry(api),
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
            raise ContractViolation(f"{method} {path} -> {status} breaks the contract: {details}")
    check_sdk_model(api, operation.template, method, status, body)
    return operation.template


# Operations whose 2xx body the SDK 1.27.0 parses, with the model it parses into.
_SDK_MODELS: dict[tuple[str, str, str], str] = {
    ("app", "POST", "/metrics/{key}/event"): "EventResponse",
    ("app", "POST", "/users"): "User",
    ("app", "GET", "/users/{id}"): "User",
    ("app", "PUT", "/users/{id}"): "User",
    ("app", "PATCH", "/users/{id}"): "User",
    ("app", "GET", "/users/{id}/preferences"): "UserPreferencesResponse",
    ("app", "PATCH", "/users/{id}/preferences"): "UserPreferencesResponse",
    ("app", "GET", "/users/{id}/metrics"): "typing.List[MetricResponse]",
    ("app", "GET", "/users/{id}/metrics/{key}"): "MetricResponse",
    (
        "app",
        "GET",
        "/users/{id}/metrics/{key}/event-summary",
    ): "typing.List[UsersMetricEventSummaryResponseItem]",
    ("app", "GET", "/users/{id}/streak"): "StreakResponse",
    ("app", "GET", "/streaks"): "typing.List[BulkStreakResponseItem]",
    ("admin", "GET", "/attributes"): "ListAttributesResponse",
    ("admin", "POST", "/attributes"): "CreateAttributesResponse",
    ("admin", "PATCH", "/attributes"): "UpdateAttributesResponse",
    ("admin", "DELETE", "/attributes"): "DeleteAttributesResponse",
    ("admin", "GET", "/attributes/{id}"): "AdminAttribute",
    ("admin", "GET", "/metrics"): "ListMetricsResponse",
    ("admin", "POST", "/metrics"): "CreateMetricsResponse",
    ("admin", "PATCH", "/metrics"): "UpdateMetricsResponse",
    ("admin", "DELETE", "/metrics"): "DeleteMetricsResponse",
    ("admin", "GET", "/metrics/{id}"): "CreatedMetric",
    ("admin", "POST", "/metrics/events"): "BatchEventsResponse",
    ("admin", "GET", "/tenants"): "ListTenantsResponse",
    ("admin", "POST", "/tenants"): "CreateTenantsResponse",
    ("admin", "PATCH", "/tenants"): "UpdateTenantsResponse",
    ("admin", "DELETE", "/tenants"): "DeleteTenantsResponse",
    ("admin", "GET", "/tenants/{id}"): "AdminTenant",
    ("admin", "POST", "/application-api-keys"): "CreateApplicationKeysResponse",
    ("admin", "DELETE", "/application-api-keys"): "DeleteApplicationKeysResponse",
    ("admin", "GET", "/settings"): "AdminSettings",
    ("admin", "PATCH", "/settings"): "AdminSettings",
    ("admin", "GET", "/environments"): "typing.List[AdminEnvironment]",
    ("admin", "GET", "/streaks/settings"): "StreakSettings",
    ("admin", "PATCH", "/streaks/settings"): "StreakSettings",
    ("admin", "POST", "/streaks/freezes"): "CreateStreakFreezesResponse",
    ("admin", "POST", "/streaks/pauses"): "CreateStreakPausesResponse",
    ("admin", "DELETE", "/streaks/pauses"): "DeleteStreakPausesResponse",
    ("admin", "POST", "/streaks/restore"): "RestoreStreaksResponse",
    ("admin", "POST", "/streaks/reset"): "ResetStreaksResponse",
    ("app", "GET", "/points/{key}"): "PointsSystemResponse",
    ("app", "GET", "/points/{key}/boosts"): "typing.List[PointsBoost]",
    ("app", "GET", "/points/{key}/levels"): "typing.List[PointsLevel]",
    ("app", "GET", "/points/{key}/level-summary"): "typing.List[PointsLevelSummaryResponseItem]",
    ("app", "GET", "/points/{key}/summary"): "typing.List[PointsRange]",
    ("app", "GET", "/users/{id}/points/{key}"): "GetUserPointsResponse",
    ("app", "GET", "/users/{id}/points/{key}/boosts"): "typing.List[PointsBoost]",
    (
        "app",
        "GET",
        "/users/{id}/points/{key}/event-summary",
    ): "typing.List[UsersPointsEventSummaryResponseItem]",
    ("admin", "GET", "/points"): "ListPointsSystemsResponse",
    ("admin", "POST", "/points"): "CreatePointsSystemsResponse",
    ("admin", "PATCH", "/points"): "UpdatePointsSystemsResponse",
    ("admin", "DELETE", "/points"): "DeletePointsSystemsResponse",
    ("admin", "GET", "/points/{id}"): "AdminPointsSystem",
    ("admin", "GET", "/points/{systemId}/triggers"): "ListPointsTriggersResponse",
    ("admin", "POST", "/points/{systemId}/triggers"): "CreatePointsTriggersResponse",
    ("admin", "PATCH", "/points/{systemId}/triggers"): "PatchPointsTriggersResponse",
    ("admin", "DELETE", "/points/{systemId}/triggers"): "DeletePointsTriggersResponse",
    ("admin", "GET", "/points/{systemId}/triggers/{id}"): "AdminPointsTrigger",
    ("admin", "GET", "/points/{systemId}/levels"): "ListPointsLevelsResponse",
    ("admin", "POST", "/points/{systemId}/levels"): "CreatePointsLevelsResponse",
    ("admin", "PATCH", "/points/{systemId}/levels"): "PatchPointsLevelsResponse",
    ("admin", "DELETE", "/points/{systemId}/levels"): "DeletePointsLevelsResponse",
    ("admin", "GET", "/points/{systemId}/levels/{id}"): "AdminPointsLevel",
    ("admin", "GET", "/points/{systemId}/boosts"): "ListPointsBoostsResponse",
    ("admin", "POST", "/points/{systemId}/boosts"): "CreatePointsBoostsResponse",
    ("admin", "PATCH", "/points/{systemId}/boosts"): "PatchPointsBoostsResponse",
    ("admin", "DELETE", "/points/{systemId}/boosts"): "DeletePointsBoostsResponse",
    ("admin", "GET", "/points/{systemId}/boosts/{id}"): "AdminPointsBoost",
}


def sdk_model(name: str) -> Any:
    """The SDK type called `name` (`typing.List[X]` for lists)."""
    import typing

    import trophy
    import trophy.types as sdk_types

    if name.startswith("typing.List["):
        return typing.List[sdk_model(name[len("typing.List[") : -1])]  # noqa: UP006
    found = getattr(sdk_types, name, None) or getattr(trophy, name, None)
    if found is None:
        raise LookupError(f"the SDK has no type {name}")
    return found


def check_sdk_model(api: str, template: str, method: str, status: int, body: Any) -> None:
    name = _SDK_MODELS.get((api, method, template))
    if name is None or not 200 <= status < 300:
        return
    from trophy.core.pydantic_utilities import parse_obj_as

    model = sdk_model(name)
    try:
        parse_obj_as(model, body)
    except Exception as exc:  # pydantic's errors differ between SDK versions
        raise ContractViolation(
            f"{method} {template}: SDK 1.27.0 cannot parse the body: {exc}"
        ) from exc


SDK_EXTRA_TEMPLATES = {
    ("admin", "GET", "/settings"),
    ("admin", "PATCH", "/settings"),
    ("admin", "GET", "/environments"),
    ("admin", "GET", "/streaks/settings"),
    ("admin", "PATCH", "/streaks/settings"),
    ("admin", "POST", "/streaks/reset"),
}


def check_sdk_only(api: str, method: str, path: str, status: int, body: Any) -> None:
    """Operations the SDK 1.27.0 added (not in the 1.21.1 documents)."""
    if (api, method, path) in SDK_EXTRA_TEMPLATES:
        check_sdk_model(api, path, method, status, body)
