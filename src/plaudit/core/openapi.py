"""OpenAPI documents of the two APIs, including bodies that are validated item by item.

Admin bulk endpoints read their body themselves (a bad item is an issue, not a failed
request), so FastAPI cannot infer their schema; `array_body` documents it explicitly.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

_REF = "#/components/schemas/{model}"
_EXTRA: dict[str, Any] = {}


def _register(schema: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        _EXTRA[name] = definition
    return schema


def array_body(
    model: type[BaseModel], *, max_items: int = 100, min_items: int = 1
) -> dict[str, Any]:
    """`openapi_extra` for an operation whose body is an array of `model` items."""
    schema = _register(TypeAdapter(list[model]).json_schema(ref_template=_REF))  # type: ignore[valid-type]
    schema["minItems"] = min_items
    schema["maxItems"] = max_items
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def object_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for an operation that reads an object body itself."""
    schema = _register(model.model_json_schema(ref_template=_REF))
    name = model.__name__
    _EXTRA[name] = schema
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
        }
    }


def install_openapi(app: FastAPI, *, title: str, description: str, version: str) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=title,
            version=version,
            description=description,
            routes=app.routes,
            servers=app.servers or None,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        # Schema violations are answered by our own handlers with `{"error"}`, never with
        # FastAPI's validation shape, so drop the generated 422 models it would document.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        error = {
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}}
        }
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                unprocessable = responses.get("422")
                if unprocessable and "HTTPValidationError" in str(unprocessable):
                    responses["422"] = {"description": "Well-formed but not acceptable", **error}
                # Any operation can meet an unknown Tenant-ID or an oversized body.
                responses.setdefault(
                    "404", {"description": "Not found (or unknown Tenant-ID)", **error}
                )
                responses.setdefault("413", {"description": "Request body too large", **error})
        _add_referenced(schemas, document)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]


def header(name: str, description: str, *, max_length: int | None = None) -> dict[str, Any]:
    """An optional header parameter, for operations that read their headers themselves."""
    schema: dict[str, Any] = {"type": "string"}
    if max_length:
        schema.update(minLength=1, maxLength=max_length)
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema,
    }


API_KEY_SECURITY: list[dict[str, list[str]]] = [{"ApiKeyAuth": []}]


def _add_referenced(schemas: dict[str, Any], document: dict[str, Any]) -> None:
    """Copy into `schemas` the registered definitions this document refers to, transitively."""
    pending = list(_refs(document))
    while pending:
        name = pending.pop()
        if name in schemas or name not in _EXTRA:
            continue
        schemas[name] = _EXTRA[name]
        pending.extend(_refs(_EXTRA[name]))


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.append(ref.rsplit("/", 1)[1])
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found
