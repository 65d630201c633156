"""Building blocks of the Admin API's list / get / update / delete operations.

Resources are scoped, identified by UUID, listed oldest first, and deleted by archiving
(`status = 'archived'`), which hides them from every read and frees their key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.errors import NotFound, Unprocessable
from plaudit.core.ids import parse_uuid
from plaudit.core.references import ReferenceCheck, first_reference
from plaudit.core.schemas import AdminIssue, DeletedResource


def _active(table: Table, scope_id: int) -> list[Any]:
    return [table.c.scope_id == scope_id, table.c.status == "active"]


async def list_active(
    conn: AsyncConnection, table: Table, scope_id: int, *, limit: int, skip: int
) -> Sequence[Row[Any]]:
    query = (
        select(table)
        .where(*_active(table, scope_id))
        .order_by(table.c.created, table.c.id)
        .limit(limit)
        .offset(skip)
    )
    return (await conn.execute(query)).all()


def path_uuid(raw: str, thing: str) -> uuid.UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise Unprocessable(f"{thing} id {raw!r} is not a valid UUID")
    return parsed


async def find_active(
    conn: AsyncConnection, table: Table, scope_id: int, item_id: uuid.UUID
) -> Row[Any] | None:
    query = select(table).where(table.c.id == item_id, *_active(table, scope_id))
    return (await conn.execute(query)).first()


async def get_active(
    conn: AsyncConnection, table: Table, scope_id: int, raw_id: str, thing: str
) -> Row[Any]:
    row = await find_active(conn, table, scope_id, path_uuid(raw_id, thing))
    if row is None:
        raise NotFound(f"{thing} not found")
    return row


def item_uuid(raw: str, issues: list[AdminIssue]) -> uuid.UUID | None:
    parsed = parse_uuid(raw)
    if parsed is None:
        issues.append(AdminIssue(id=raw, severity="error", message="id must be a valid UUID"))
    return parsed


async def archive(
    conn: AsyncConnection,
    table: Table,
    scope_id: int,
    raw_ids: Sequence[str],
    *,
    thing: str,
    now: dt.datetime,
    references: list[ReferenceCheck],
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = item_uuid(raw, issues)
        if item_id is None:
            continue
        if await find_active(conn, table, scope_id, item_id) is None:
            issues.append(AdminIssue(id=raw, severity="error", message=f"{thing} not found by ID"))
            continue
        used_by = await first_reference(references, conn, scope_id, item_id)
        if used_by:
            issues.append(
                AdminIssue(id=raw, severity="error", message=f"{thing} is in use by {used_by}")
            )
            continue
        await conn.execute(
            update(table).where(table.c.id == item_id).values(status="archived", updated=now)
        )
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues
