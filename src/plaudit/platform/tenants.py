"""Tenants of an environment: each one is a scope of its own, selected by `Tenant-ID`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.admin_crud import item_uuid, path_uuid
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.schemas import AdminTenant, CreateTenantRequestItem, UpdateTenantRequestItem
from plaudit.platform.tables import scopes, tenants


async def insert_scope(
    conn: AsyncConnection, environment_id: uuid.UUID, tenant_id: uuid.UUID | None, now: dt.datetime
) -> int:
    """A new, empty scope: an environment's own (no tenant) or a tenant's."""
    scope_id: int = (
        await conn.execute(
            insert(scopes)
            .values(
                environment_id=environment_id,
                tenant_id=tenant_id,
                config_version=1,
                settings={},
                created=now,
            )
            .returning(scopes.c.id)
        )
    ).scalar_one()
    return scope_id


def to_wire(row: Row[Any]) -> AdminTenant:
    return AdminTenant(
        id=str(row.id),
        customer_id=row.customer_id,
        name=row.name,
        status=row.status,
        created=row.created,
        updated=row.updated,
    )


def _taken(customer_id: str) -> str:
    return f'Customer ID "{customer_id}" already exists in this environment'


async def list_tenants(
    conn: AsyncConnection, environment_id: uuid.UUID, *, limit: int, skip: int
) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            select(tenants)
            .where(tenants.c.environment_id == environment_id)
            .order_by(tenants.c.created, tenants.c.id)
            .limit(limit)
            .offset(skip)
        )
    ).all()


async def _find(
    conn: AsyncConnection, environment_id: uuid.UUID, tenant_id: uuid.UUID
) -> Row[Any] | None:
    return (
        await conn.execute(
            select(tenants).where(
                tenants.c.environment_id == environment_id, tenants.c.id == tenant_id
            )
        )
    ).first()


async def get(conn: AsyncConnection, environment_id: uuid.UUID, raw_id: str) -> Row[Any]:
    row = await _find(conn, environment_id, path_uuid(raw_id, "Tenant"))
    if row is None:
        raise NotFound("Tenant not found")
    return row


async def _customer_taken(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    customer_id: str,
    except_id: uuid.UUID | None = None,
) -> bool:
    query = select(tenants.c.id).where(
        tenants.c.environment_id == environment_id, tenants.c.customer_id == customer_id
    )
    if except_id is not None:
        query = query.where(tenants.c.id != except_id)
    return (await conn.scalar(query)) is not None


async def create(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    items: Sequence[tuple[int, CreateTenantRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[AdminTenant]:
    created: list[AdminTenant] = []
    for index, item in items:
        if await _customer_taken(conn, environment_id, item.customer_id):
            issues.append(
                AdminIssue(index=index, severity="error", message=_taken(item.customer_id))
            )
            continue
        tenant_id = new_id()
        try:
            async with conn.begin_nested():
                scope_id = await insert_scope(conn, environment_id, tenant_id, now)
                await conn.execute(
                    insert(tenants).values(
                        id=tenant_id,
                        environment_id=environment_id,
                        scope_id=scope_id,
                        customer_id=item.customer_id,
                        name=item.name,
                        status="active",
                        created=now,
                        updated=now,
                    )
                )
        except IntegrityError:
            issues.append(
                AdminIssue(index=index, severity="error", message=_taken(item.customer_id))
            )
            continue
        created.append(
            AdminTenant(
                id=str(tenant_id),
                customer_id=item.customer_id,
                name=item.name,
                status="active",
                created=now,
                updated=now,
            )
        )
    return created


async def update_many(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    items: Sequence[tuple[int, UpdateTenantRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[AdminTenant]:
    updated: list[AdminTenant] = []
    for _index, item in items:
        tenant_id = item_uuid(item.id, issues)
        if tenant_id is None:
            continue
        if item.customer_id is None and item.name is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message="Send customerId, name or both")
            )
            continue
        row = await _find(conn, environment_id, tenant_id)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message="Tenant not found by ID")
            )
            continue
        customer_id = item.customer_id or row.customer_id
        if customer_id != row.customer_id and await _customer_taken(
            conn, environment_id, customer_id, tenant_id
        ):
            issues.append(AdminIssue(id=item.id, severity="error", message=_taken(customer_id)))
            continue
        name = item.name or row.name
        try:
            async with conn.begin_nested():
                await conn.execute(
                    update(tenants)
                    .where(tenants.c.id == tenant_id)
                    .values(customer_id=customer_id, name=name, updated=now)
                )
        except IntegrityError:
            issues.append(AdminIssue(id=item.id, severity="error", message=_taken(customer_id)))
            continue
        updated.append(
            AdminTenant(
                id=str(row.id),
                customer_id=customer_id,
                name=name,
                status=row.status,
                created=row.created,
                updated=now,
            )
        )
    return updated


async def archive(
    conn: AsyncConnection, environment_id: uuid.UUID, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    """Deleting a tenant archives it: its data stays, its Tenant-ID stops working."""
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        tenant_id = item_uuid(raw, issues)
        if tenant_id is None:
            continue
        row = await _find(conn, environment_id, tenant_id)
        if row is None or row.status == "archived":
            issues.append(AdminIssue(id=raw, severity="error", message="Tenant not found by ID"))
            continue
        await conn.execute(
            update(tenants).where(tenants.c.id == tenant_id).values(status="archived", updated=now)
        )
        deleted.append(DeletedResource(id=str(tenant_id)))
    return deleted, issues
