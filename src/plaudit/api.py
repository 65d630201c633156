"""The app factory: Application API at /v1 (alias /api), Admin API at /admin/v1.

Each API is its own FastAPI app with its own OpenAPI document (`/v1/openapi.json`,
`/admin/v1/openapi.json`); the root app adds health, readiness and Prometheus metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import text
from starlette.responses import Response

from plaudit import __version__, features
from plaudit.core import migrate
from plaudit.core.http import (
    RequestContextMiddleware,
    error_response,
    install_error_handlers,
    json_response,
)
from plaudit.core.observability import render_metrics
from plaudit.core.openapi import install_openapi
from plaudit.core.ratelimit import RateLimitHeaders, enforce_rate_limit
from plaudit.core.settings import Settings, get_settings
from plaudit.jobs.worker import WorkerLoop
from plaudit.leaderboards import redis_ranks
from plaudit.runtime import Runtime

CONTRACT_VERSION = "1.27.0"


def _sub_app(runtime: Runtime, *, title: str, description: str, admin: bool) -> FastAPI:
    app = FastAPI(
        dependencies=[Depends(enforce_rate_limit)] if runtime.limiter is not None else [],
        title=title,
        description=description,
        version=CONTRACT_VERSION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.admin_api = admin
    routers = features.ADMIN_ROUTERS if admin else features.APPLICATION_ROUTERS
    for router in routers:
        app.include_router(router)
    if admin and runtime.settings.test_clock:
        app.include_router(features.TEST_CLOCK_ROUTER)
    install_error_handlers(app)
    install_openapi(app, title=title, description=description, version=CONTRACT_VERSION)
    if runtime.limiter is not None:
        app.add_middleware(RateLimitHeaders)
    if not admin and runtime.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=runtime.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH"],
            allow_headers=["X-API-KEY", "Tenant-ID", "Idempotency-Key", "Content-Type"],
        )
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        worker = WorkerLoop(runtime) if settings.embedded_worker else None
        if worker is not None:
            worker.start()
            runtime.worker_wakeup = worker.wake
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await redis_ranks.drain()  # rebuilds read the database: before it goes
            await runtime.stop()

    application = _sub_app(
        runtime,
        title="Plaudit Application API",
        description="What your app's users do and see: events, users, progress. "
        "Compatible with Trophy's Application API.",
        admin=False,
    )
    admin = _sub_app(
        runtime,
        title="Plaudit Admin API",
        description="Configuration and operations for your backend. Compatible with Trophy's "
        "Admin API, plus keys, environments and the test clock.",
        admin=True,
    )
    root = FastAPI(
        lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None, version=__version__
    )
    root.state.runtime = runtime
    install_error_handlers(root)

    @root.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @root.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            async with runtime.db.transaction(write=False) as conn:
                await conn.execute(text("SELECT 1"))
            current = await migrate.current_revision(runtime.db.read_engine)
        except Exception as exc:  # any failure to reach the database means "not ready"
            return error_response(503, f"database unavailable: {type(exc).__name__}")
        if current != migrate.head_revision():
            return error_response(
                503, f"database schema is at {current}, expected {migrate.head_revision()}"
            )
        return json_response({"status": "ready"})

    @root.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    root.mount("/v1", application)
    root.mount("/api", application)
    root.mount("/admin/v1", admin)
    root.add_middleware(
        RequestContextMiddleware,
        max_body=settings.max_body_bytes,
        max_batch_body=settings.max_batch_body_bytes,
        access_log=settings.access_log,
    )
    return root
