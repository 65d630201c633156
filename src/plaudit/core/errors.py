"""One error hierarchy: each error carries its HTTP status and a message naming what was wrong.

A single handler renders them as `{"error": "..."}`. Unknown exceptions are never turned
into 4xx: they stay 500 and roll the transaction back.
"""

from __future__ import annotations


class PlauditError(Exception):
    status_code = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(PlauditError):
    """The body or query does not match the schema (malformed, missing, wrong type)."""

    status_code = 400


class Unauthorized(PlauditError):
    status_code = 401


class Forbidden(PlauditError):
    status_code = 403


class NotFound(PlauditError):
    status_code = 404


class PayloadTooLarge(PlauditError):
    status_code = 413


class Unprocessable(PlauditError):
    """Well-formed but not acceptable: a rule is violated."""

    status_code = 422


class RateLimited(PlauditError):
    status_code = 429
