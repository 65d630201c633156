"""HTTP conventions shared by both APIs: JSON bodies, error rendering, request ids, limits.

Errors always leave as `{"error": "..."}`. Schema violations are 400 on operations that
declare 400 and 422 elsewhere (the official SDKs only type the codes each operation lists).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaudit.core import observability
from plaudit.core.errors import BadRequest, PlauditError, Unprocessable

log = structlog.get_logger("plaudit.http")
M = TypeVar("M", bound=BaseModel)

JSON = "application/json"


def json_response(
    content: BaseModel | Sequence[BaseModel] | Any,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialize pydantic models by alias (camelCase); plain data with orjson."""
    if isinstance(content, BaseModel):
        body = content.model_dump_json(by_alias=True).encode()
    elif isinstance(content, list) and content and isinstance(content[0], BaseModel):
        body = (
            b"["
            + b",".join(item.model_dump_json(by_alias=True).encode() for item in content)
            + b"]"
        )
    else:
        body = orjson.dumps(content)
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps({"error": message}), status_code=status_code, media_type=JSON, headers=headers
    )


def describe_validation_errors(errors: Sequence[Any], *, drop_prefix: str | None = "body") -> str:
    """One sentence that names each offending field."""
    parts: list[str] = []
    for error in errors[:5]:
        loc = [str(p) for p in error.get("loc", ())]
        if (loc and drop_prefix and loc[0] == drop_prefix) or (
            loc and loc[0] in ("query", "path", "header")
        ):
            loc = loc[1:]
        where = ".".join(loc) or "request body"
        kind = error.get("type", "")
        if kind == "json_invalid":
            parts.append("request body is not valid JSON")
        elif kind == "missing":
            parts.append(f"{where} is required")
        else:
            parts.append(f"{where}: {error.get('msg', 'is invalid')}")
    more = len(errors) - 5
    text = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return "Invalid request: " + text


def _declares_400(request: Request) -> bool:
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return 400 in route.responses or "400" in route.responses
    return False


def schema_error(request: Request, message: str) -> PlauditError:
    """The right error class for a schema violation on this operation."""
    return BadRequest(message) if _declares_400(request) else Unprocessable(message)


# PostgreSQL's codes for a transaction aborted because of another one: deadlock, serialization
# failure, lock not available. Nothing of the request was written; the same request can work.
_CONFLICT_STATES = frozenset({"40P01", "40001", "55P03"})
CONFLICT_MESSAGE = (
    "The database aborted this request in a conflict with a concurrent change; nothing was "
    "written. Retry it."
)


def is_transient_conflict(exc: DBAPIError) -> bool:
    """Whether the database refused the transaction for a reason that a retry can clear."""
    if getattr(exc.orig, "sqlstate", None) in _CONFLICT_STATES:
        return True
    # SQLite: the write lock stayed taken past the busy timeout.
    return "database is locked" in str(exc.orig)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        if not is_transient_conflict(exc):
            raise exc  # a bug: the server error middleware logs it and answers 500
        log.warning("transaction_conflict", path=request.url.path, error=str(exc.orig))
        return error_response(409, CONFLICT_MESSAGE, {"Retry-After": "1"})

    @app.exception_handler(PlauditError)
    async def _plaudit_error(_request: Request, exc: PlauditError) -> Response:
        return error_response(exc.status_code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        error = schema_error(request, describe_validation_errors(exc.errors()))
        return error_response(error.status_code, error.message)

    @app.exception_handler(ValidationError)
    async def _model_error(request: Request, exc: ValidationError) -> Response:
        error = schema_error(request, describe_validation_errors(exc.errors(), drop_prefix=None))
        return error_response(error.status_code, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI could not decode the body at all
            error = schema_error(request, "Invalid request: request body is not valid JSON")
            return error_response(error.status_code, error.message)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint"
        elif exc.status_code == 405:
            message = "Method not allowed on this endpoint"
        return error_response(exc.status_code, message, dict(exc.headers or {}))


async def read_model(request: Request, model: type[M]) -> M:
    """The body validated against `model` straight from its JSON bytes (the fast path)."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise schema_error(
            request, describe_validation_errors(exc.errors(), drop_prefix=None)
        ) from None


async def read_json(request: Request) -> Any:
    """The parsed JSON body, or the operation's schema error when it is not JSON."""
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise schema_error(request, "Invalid request: request body is not valid JSON") from None


class RequestContextMiddleware:
    """Request id, access log, Prometheus metrics and body-size limits (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, max_body: int, max_batch_body: int, access_log: bool
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_batch_body = max_batch_body
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        path: str = scope["path"]
        limit = self.max_batch_body if path.endswith("/metrics/events") else self.max_body
        status = 500

        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            response = error_response(422, "The request path or query contains a NUL character")
            await response(scope, receive, send)
            self._finish(scope, 422, started, request_id)
            return

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = error_response(413, f"Request body exceeds {limit} bytes")
            await response(scope, receive, send)
            self._finish(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            status = 413
            await error_response(413, f"Request body exceeds {limit} bytes")(scope, receive, send)
        finally:
            self._finish(scope, status, started, request_id)
            structlog.contextvars.unbind_contextvars("request_id")

    def _finish(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path_format", None)
        prefix = scope.get("root_path", "")
        name = f"{prefix}{template}" if template else "unmatched"
        method = scope.get("method", "")
        observability.HTTP_REQUESTS.labels(method, name, str(status)).inc()
        observability.HTTP_LATENCY.labels(method, name).observe(elapsed)
        if self.access_log:
            log.info(
                "request",
                method=method,
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )


class _BodyTooLarge(Exception):
    pass


Handler = Callable[[Request], Awaitable[Response]]
