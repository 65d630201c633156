"""Request dependencies: the runtime, the request's transaction, its clock reading, its caller.

One transaction per request: it opens before the endpoint runs and commits after the
endpoint returns but before the response is sent (dependency scope "function"), so a
client never sees a success that was not committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.platform.auth import Principal, authenticate
from plaudit.platform.config import ScopeConfig
from plaudit.runtime import Runtime

api_key_header = APIKeyHeader(
    name="X-API-KEY", auto_error=False, scheme_name="ApiKeyAuth", description="Your API key."
)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _read_only(request: Request) -> None:
    request.state.read_only = True


# For operations that write in transactions of their own (the request's stays read-only).
ReadOnly = Depends(_read_only)


async def _transaction(request: Request, runtime: RuntimeDep) -> AsyncIterator[AsyncConnection]:
    write = request.method != "GET" and not getattr(request.state, "read_only", False)
    async with runtime.db.transaction(write=write) as conn:
        yield conn


Conn = Annotated[AsyncConnection, Depends(_transaction, scope="function")]


async def _now(runtime: RuntimeDep, conn: Conn) -> dt.datetime:
    return await runtime.clock.now(conn)


Now = Annotated[dt.datetime, Depends(_now)]

TenantHeader = Annotated[
    str | None,
    Header(
        alias="Tenant-ID",
        description="Your own id (customerId) of the tenant to act on; omit for the "
        "environment's own data.",
    ),
]


async def _authenticate(
    runtime: Runtime,
    conn: AsyncConnection,
    now: dt.datetime,
    presented: str | None,
    tenant: str | None,
    *,
    admin_api: bool,
    honor_tenant: bool = True,
) -> Principal:
    bootstrap = runtime.settings.admin_key
    principal = await authenticate(
        conn,
        runtime.auth,
        presented=presented,
        tenant_header=tenant,
        bootstrap_key=bootstrap.get_secret_value() if bootstrap else None,
        admin_api=admin_api,
        honor_tenant=honor_tenant,
    )
    if principal.key_id is not None:
        runtime.key_usage.record(principal.key_id, now)
    return principal


async def _application_principal(
    runtime: RuntimeDep,
    conn: Conn,
    now: Now,
    tenant: TenantHeader = None,
    presented: str | None = Depends(api_key_header),
) -> Principal:
    return await _authenticate(runtime, conn, now, presented, tenant, admin_api=False)


async def _admin_principal(
    runtime: RuntimeDep,
    conn: Conn,
    now: Now,
    tenant: TenantHeader = None,
    presented: str | None = Depends(api_key_header),
) -> Principal:
    return await _authenticate(runtime, conn, now, presented, tenant, admin_api=True)


async def _admin_principal_without_tenant(
    runtime: RuntimeDep,
    conn: Conn,
    now: Now,
    presented: str | None = Depends(api_key_header),
) -> Principal:
    return await _authenticate(
        runtime, conn, now, presented, None, admin_api=True, honor_tenant=False
    )


async def authenticate_request(
    request: Request, runtime: Runtime, conn: AsyncConnection, now: dt.datetime, *, admin_api: bool
) -> Principal:
    """For hot endpoints that skip dependency injection: the caller, from the headers."""
    headers = request.headers
    return await _authenticate(
        runtime, conn, now, headers.get("x-api-key"), headers.get("tenant-id"), admin_api=admin_api
    )


AppCaller = Annotated[Principal, Depends(_application_principal)]
AdminCaller = Annotated[Principal, Depends(_admin_principal)]
EnvironmentAdminCaller = Annotated[Principal, Depends(_admin_principal_without_tenant)]


async def scope_config(
    runtime: Runtime, conn: AsyncConnection, principal: Principal
) -> ScopeConfig:
    return await runtime.config.get(conn, principal.scope_id)


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100).")]
Skip = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]
Ids = Annotated[list[str] | None, Query(description="UUIDs, repeated or comma-separated.")]
