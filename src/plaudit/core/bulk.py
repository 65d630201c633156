"""Admin bulk requests: arrays of 1-100 items where one bad item is an issue, not a failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from plaudit.core.errors import Unprocessable
from plaudit.core.schemas import AdminIssue

M = TypeVar("M", bound=BaseModel)

MAX_BULK_ITEMS = 100

_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be a boolean",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "missing": "is required",
    "literal_error": "is not one of the allowed values",
    "enum": "is not one of the allowed values",
}


def issue_text(error: Any) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()))
    words = _TYPE_WORDS.get(error.get("type", ""))
    if words and error.get("type") in ("literal_error", "enum"):
        return f"{loc} {words}: {error.get('msg', '')}".strip()
    if words:
        return f"{loc} {words}"
    message = str(error.get("msg", "is invalid"))
    return f"{loc}: {message}" if loc else message


def require_array(body: Any, *, max_items: int = MAX_BULK_ITEMS, what: str = "items") -> list[Any]:
    if not isinstance(body, list):
        raise Unprocessable(f"Request body must be a JSON array of {what}")
    if not body:
        raise Unprocessable(f"Request body must contain at least 1 of {what}")
    if len(body) > max_items:
        raise Unprocessable(f"Request body may contain at most {max_items} {what}; got {len(body)}")
    return body


def validate_items(
    model: type[M], items: Sequence[Any], issues: list[AdminIssue], *, id_field: str | None = None
) -> list[tuple[int, M]]:
    """Items that match `model`, with an issue (by index, or by id for updates) for the rest."""
    valid: list[tuple[int, M]] = []
    for index, item in enumerate(items):
        ref: dict[str, Any] = {"index": index}
        if id_field and isinstance(item, dict) and isinstance(item.get(id_field), str):
            ref = {"id": item[id_field]}
        if not isinstance(item, dict):
            issues.append(AdminIssue(severity="error", message="Item must be a JSON object", **ref))
            continue
        try:
            valid.append((index, model.model_validate(item)))
        except ValidationError as exc:
            message = "; ".join(issue_text(error) for error in exc.errors()[:3])
            issues.append(AdminIssue(severity="error", message=message, **ref))
    return valid


def parse_id_list(
    raw: Sequence[str] | None, *, name: str = "ids", max_items: int = MAX_BULK_ITEMS
) -> list[str]:
    """`?ids=a&ids=b` and `?ids=a,b` alike; required and at most `max_items`."""
    values = [part.strip() for chunk in (raw or []) for part in chunk.split(",") if part.strip()]
    if not values:
        raise Unprocessable(f"{name} is required")
    if len(values) > max_items:
        raise Unprocessable(f"{name} may contain at most {max_items} values; got {len(values)}")
    return list(dict.fromkeys(values))


def by_position(issues: list[AdminIssue]) -> list[AdminIssue]:
    """Issues in the order of the items they concern."""
    return sorted(issues, key=lambda issue: issue.index if issue.index is not None else -1)
