"""Shared wire conventions: camelCase models, timestamps, numbers, errors and admin issues."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, Strict, model_validator
from pydantic.alias_generators import to_camel


def format_timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a `Z`; milliseconds only when there are any."""
    value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def format_number(value: float) -> int | float:
    """Integral values go out as JSON integers (750, not 750.0)."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


Timestamp = Annotated[dt.datetime, PlainSerializer(format_timestamp, return_type=str)]
Date = Annotated[dt.date, PlainSerializer(dt.date.isoformat, return_type=str)]
Number = Annotated[float, PlainSerializer(format_number, return_type=int | float)]
StrictBool = Annotated[bool, Strict()]
StrictNumber = Annotated[float, Strict(), Field(allow_inf_nan=False)]
StrictInt = Annotated[int, Strict()]


def omit_none(default: Any = None, **kwargs: Any) -> Any:
    """A field that is left out of the JSON when it is None (optional, not nullable)."""
    return Field(default, exclude_if=lambda v: v is None, **kwargs)


class ApiModel(BaseModel):
    """Response and request models: Python snake_case, wire camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )


def _find_nul(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, where) or _find_nul(
                item, f"{where}.{key}" if where else str(key)
            )
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


class RequestModel(ApiModel):
    """Request bodies: NUL characters are refused everywhere, on both databases alike
    (PostgreSQL cannot store them in text or JSON)."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        where = _find_nul(data, "")
        if where is not None:
            raise ValueError(f"{where or 'a key'} contains a NUL character, which is not allowed")
        return data


class ErrorBody(BaseModel):
    error: str


class AdminIssue(ApiModel):
    id: str | None = omit_none()
    user_id: str | None = omit_none()
    boost_id: str | None = omit_none()
    index: int | None = omit_none()
    severity: Literal["error", "warning"]
    message: str


class DeletedResource(ApiModel):
    id: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error codes an operation declares."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}


_ERROR_TEXT = {
    400: "The body or query does not match the schema",
    401: "Missing, unknown or revoked API key",
    403: "The key may not do this",
    404: "Not found",
    422: "Well-formed but not acceptable",
    429: "Rate limit exceeded",
}
