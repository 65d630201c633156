"""Admin keys (one environment, any scope) and application keys (one user of one scope).

Only a SHA-256 of each key is stored; the full key is shown once, when it is made.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import keys
from plaudit.core.admin_crud import item_uuid, path_uuid
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.schemas import (
    AdminApiKey,
    CreateApiKeyRequestItem,
    CreateApplicationKeyRequestItem,
    CreatedApplicationKey,
    UpdateApiKeyRequestItem,
)
from plaudit.platform.tables import api_keys
from plaudit.users.tables import users


def to_wire(row: Row[Any], full_key: str | None = None) -> AdminApiKey:
    return AdminApiKey(
        id=str(row.id),
        name=row.name or "",
        prefix=row.prefix,
        status=row.status,
        created=row.created,
        last_used=row.last_used,
        key=full_key,
    )


async def insert_admin_key(
    conn: AsyncConnection, environment_id: uuid.UUID, name: str, now: dt.datetime
) -> tuple[Row[Any], str]:
    material = keys.new_key()
    key_id = new_id()
    await conn.execute(
        insert(api_keys).values(
            id=key_id,
            environment_id=environment_id,
            scope_id=None,
            kind="admin",
            name=name,
            prefix=material.prefix,
            secret_hash=material.secret_hash,
            status="active",
            user_id=None,
            created=now,
            updated=now,
        )
    )
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    return row, material.full_key


async def count_admin_keys(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(
            select(func.count()).select_from(api_keys).where(api_keys.c.kind == "admin")
        )
        or 0
    )


def _admin_keys(environment_id: uuid.UUID) -> list[Any]:
    return [api_keys.c.environment_id == environment_id, api_keys.c.kind == "admin"]


async def list_admin_keys(
    conn: AsyncConnection, environment_id: uuid.UUID, *, limit: int, skip: int
) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            select(api_keys)
            .where(*_admin_keys(environment_id))
            .order_by(api_keys.c.created, api_keys.c.id)
            .limit(limit)
            .offset(skip)
        )
    ).all()


async def _find_admin_key(
    conn: AsyncConnection, environment_id: uuid.UUID, key_id: uuid.UUID
) -> Row[Any] | None:
    return (
        await conn.execute(
            select(api_keys).where(api_keys.c.id == key_id, *_admin_keys(environment_id))
        )
    ).first()


async def create_admin_keys(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    items: Sequence[tuple[int, CreateApiKeyRequestItem]],
    now: dt.datetime,
) -> list[AdminApiKey]:
    created = []
    for _index, item in items:
        row, full_key = await insert_admin_key(conn, environment_id, item.name, now)
        created.append(to_wire(row, full_key))
    return created


async def update_admin_keys(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    items: Sequence[tuple[int, UpdateApiKeyRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[AdminApiKey]:
    updated = []
    for _index, item in items:
        key_id = item_uuid(item.id, issues)
        if key_id is None:
            continue
        row = await _find_admin_key(conn, environment_id, key_id)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message="API key not found by ID")
            )
            continue
        changes: dict[str, Any] = {}
        if item.name is not None:
            changes["name"] = item.name
        if item.status is not None:
            changes["status"] = item.status
        if changes:
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(**changes, updated=now)
            )
        row = await _find_admin_key(conn, environment_id, key_id)
        assert row is not None
        updated.append(to_wire(row))
    return updated


async def delete_admin_keys(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    raw_ids: Sequence[str],
    *,
    calling_key: uuid.UUID | None,
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        key_id = item_uuid(raw, issues)
        if key_id is None:
            continue
        if key_id == calling_key:
            issues.append(
                AdminIssue(id=raw, severity="error", message="A key cannot delete itself")
            )
            continue
        result = await conn.execute(
            delete(api_keys).where(api_keys.c.id == key_id, *_admin_keys(environment_id))
        )
        if not result.rowcount:
            issues.append(AdminIssue(id=raw, severity="error", message="API key not found by ID"))
            continue
        deleted.append(DeletedResource(id=str(key_id)))
    return deleted, issues


async def rotate_admin_key(
    conn: AsyncConnection, environment_id: uuid.UUID, raw_id: str, now: dt.datetime
) -> AdminApiKey:
    key_id = path_uuid(raw_id, "API key")
    if await _find_admin_key(conn, environment_id, key_id) is None:
        raise NotFound("API key not found")
    material = keys.new_key()
    await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(prefix=material.prefix, secret_hash=material.secret_hash, updated=now)
    )
    row = await _find_admin_key(conn, environment_id, key_id)
    assert row is not None
    return to_wire(row, material.full_key)


async def create_application_keys(
    conn: AsyncConnection,
    environment_id: uuid.UUID,
    scope_id: int,
    items: Sequence[tuple[int, CreateApplicationKeyRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[CreatedApplicationKey]:
    created: list[CreatedApplicationKey] = []
    for index, item in items:
        exists = await conn.scalar(
            select(users.c.pk).where(users.c.scope_id == scope_id, users.c.id == item.user_id)
        )
        if exists is None:
            issues.append(
                AdminIssue(
                    index=index,
                    user_id=item.user_id,
                    severity="error",
                    message="User does not exist",
                )
            )
            continue
        material = keys.new_key(application=True)
        key_id = new_id()
        await conn.execute(
            insert(api_keys).values(
                id=key_id,
                environment_id=environment_id,
                scope_id=scope_id,
                kind="application",
                name=None,
                prefix=material.prefix,
                secret_hash=material.secret_hash,
                status="active",
                user_id=item.user_id,
                created=now,
                updated=now,
            )
        )
        created.append(
            CreatedApplicationKey(
                id=str(key_id), user_id=item.user_id, key=material.full_key, prefix=material.prefix
            )
        )
    return created


async def delete_application_keys(
    conn: AsyncConnection, environment_id: uuid.UUID, raw_ids: Sequence[str]
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        key_id = item_uuid(raw, issues)
        if key_id is None:
            continue
        result = await conn.execute(
            delete(api_keys).where(
                api_keys.c.id == key_id,
                api_keys.c.environment_id == environment_id,
                api_keys.c.kind == "application",
            )
        )
        if not result.rowcount:
            issues.append(
                AdminIssue(id=raw, severity="error", message="Application API key not found by ID")
            )
            continue
        deleted.append(DeletedResource(id=str(key_id)))
    return deleted, issues
