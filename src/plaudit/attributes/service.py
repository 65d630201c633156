"""Custom attributes: declare, rename, archive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.attributes.schemas import (
    AdminAttribute,
    CreateAttributeRequestItem,
    UpdateAttributeRequestItem,
)
from plaudit.attributes.tables import attributes
from plaudit.core import admin_crud
from plaudit.core.ids import new_id
from plaudit.core.references import ATTRIBUTE_REFERENCES
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.users.tables import users

THING = "Attribute"
KEY_TAKEN = "Key already in use by another attribute of this type"


def to_wire(row: Row[Any]) -> AdminAttribute:
    return AdminAttribute(id=str(row.id), name=row.name, key=row.key, type=row.type)


async def _key_taken(conn: AsyncConnection, scope_id: int, type_: str, key: str) -> bool:
    found = await conn.scalar(
        select(attributes.c.id).where(
            attributes.c.scope_id == scope_id,
            attributes.c.type == type_,
            attributes.c.key == key,
            attributes.c.status == "active",
        )
    )
    return found is not None


async def create(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, CreateAttributeRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[AdminAttribute]:
    created: list[AdminAttribute] = []
    for index, item in items:
        if await _key_taken(conn, scope_id, item.type, item.key):
            issues.append(AdminIssue(index=index, severity="error", message=KEY_TAKEN))
            continue
        values = {
            "id": new_id(),
            "scope_id": scope_id,
            "key": item.key,
            "name": item.name,
            "type": item.type,
            "status": "active",
            "created": now,
            "updated": now,
        }
        try:
            async with conn.begin_nested():
                await conn.execute(insert(attributes).values(**values))
        except IntegrityError:  # a concurrent request took the key first
            issues.append(AdminIssue(index=index, severity="error", message=KEY_TAKEN))
            continue
        created.append(
            AdminAttribute(id=str(values["id"]), name=item.name, key=item.key, type=item.type)
        )
    return created


async def update_names(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, UpdateAttributeRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[AdminAttribute]:
    updated: list[AdminAttribute] = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = await admin_crud.find_active(conn, attributes, scope_id, item_id)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{THING} not found by ID")
            )
            continue
        if item.name is not None and item.name != row.name:
            await conn.execute(
                update(attributes)
                .where(attributes.c.id == item_id)
                .values(name=item.name, updated=now)
            )
        updated.append(
            AdminAttribute(id=str(row.id), name=item.name or row.name, key=row.key, type=row.type)
        )
    return updated


async def archive(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    rows = {
        str(row.id): row
        for row in await conn.execute(
            select(attributes.c.id, attributes.c.key, attributes.c.type).where(
                attributes.c.scope_id == scope_id, attributes.c.status == "active"
            )
        )
    }
    deleted, issues = await admin_crud.archive(
        conn, attributes, scope_id, raw_ids, thing=THING, now=now, references=ATTRIBUTE_REFERENCES
    )
    for resource in deleted:
        row = rows[resource.id]
        if row.type == "user":
            await _forget_user_values(conn, scope_id, row.key)
    return deleted, issues


async def _forget_user_values(conn: AsyncConnection, scope_id: int, key: str) -> None:
    """A deleted user attribute takes its stored values with it (a new one starts empty)."""
    stripped: ColumnElement[Any]
    has_key: ColumnElement[Any]
    if conn.dialect.name == "postgresql":
        stripped = users.c.attributes.op("-")(key)
        has_key = users.c.attributes.op("?")(key)
    else:
        path = '$."' + key + '"'
        stripped = func.json_remove(users.c.attributes, path)
        has_key = func.json_type(users.c.attributes, path).is_not(None)
    await conn.execute(
        update(users).where(users.c.scope_id == scope_id, has_key).values(attributes=stripped)
    )
