"""Admin API for a system's boosts: global, cohort (`userAttributes`) or for one user
(`userId`); each keeps the time of its next `points.boost_started` / `_finished`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.errors import NotFound
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.platform.config import ScopeConfig
from plaudit.points import rules
from plaudit.points.admin_common import BOOST, Invalid, boost_wire, filters
from plaudit.points.config import boost_from_row
from plaudit.points.schemas import CreateBoost, UpdateBoost
from plaudit.points.tables import points_boosts
from plaudit.users.tables import users


def _announce_values(
    row_like: Any, user_tz: str | None, config: ScopeConfig, now: dt.datetime, *, sent_started: bool
) -> dict[str, Any]:
    boost = boost_from_row(row_like, {})
    tz = config.user_zone(user_tz) if row_like.user_pk is not None else None
    _started, finished = rules.announcements(boost, tz)
    if finished is not None and finished <= now and not sent_started:
        return {"announce_at": None, "announce": None}  # over before anyone could hear of it
    at, kind = rules.next_announcement(boost, tz, "started" if sent_started else None)
    return {"announce_at": at, "announce": kind}


async def create_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, CreateBoost]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    created = []
    for index, item in items:
        try:
            user = None
            if item.multiplier == 1:
                raise Invalid("multiplier must not be 1")
            if item.end is not None and item.end < item.start:
                raise Invalid("end must not be before start")
            if item.user_id is not None and item.user_attributes is not None:
                raise Invalid("userAttributes cannot be set on a boost for one user (userId)")
            if item.user_id is not None:
                user = (
                    await conn.execute(
                        select(users.c.pk, users.c.tz).where(
                            users.c.scope_id == config.scope_id, users.c.id == item.user_id
                        )
                    )
                ).first()
                if user is None:
                    raise Invalid("User does not exist")
            stored_filters = filters(item.user_attributes, "user", config)
        except Invalid as exc:
            issues.append(AdminIssue(index=index, severity="error", message=str(exc)))
            continue
        values: dict[str, Any] = {
            "id": new_id(),
            "scope_id": config.scope_id,
            "system_id": system.id,
            "name": item.name,
            "start": item.start,
            "end": item.end,
            "multiplier": item.multiplier,
            "rounding": item.rounding or "down",
            "user_pk": user.pk if user else None,
            "user_attributes": stored_filters,
            "status": "live",
            "created": now,
            "updated": now,
        }
        values.update(
            _announce_values(
                _Row(values), user.tz if user else None, config, now, sent_started=False
            )
        )
        await conn.execute(insert(points_boosts).values(**values))
        row = (
            await conn.execute(select(points_boosts).where(points_boosts.c.id == values["id"]))
        ).one()
        created.append(boost_wire(row, item.user_id, user.tz if user else None, config, now))
    return created


class _Row:
    """Attribute access to a dict of column values (for functions that take rows)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


async def _boost_rows(
    conn: AsyncConnection, system_id: uuid.UUID, *, boost_id: uuid.UUID | None = None
) -> list[Any]:
    query = (
        select(points_boosts, users.c.id.label("user_id"), users.c.tz.label("user_tz"))
        .select_from(points_boosts.outerjoin(users, users.c.pk == points_boosts.c.user_pk))
        .where(points_boosts.c.system_id == system_id, points_boosts.c.status == "live")
        .order_by(points_boosts.c.created, points_boosts.c.id)
    )
    if boost_id is not None:
        query = query.where(points_boosts.c.id == boost_id)
    return list(await conn.execute(query))


async def update_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    items: Sequence[tuple[int, UpdateBoost]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    updated = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        found = await _boost_rows(conn, system.id, boost_id=item_id)
        if not found:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{BOOST} not found by ID")
            )
            continue
        row = found[0]
        sent = set(item.model_fields_set) - {"id"}
        try:
            for name in sent:
                if getattr(item, name) is None and name not in ("end", "user_attributes"):
                    raise Invalid(f"{name} may not be null")
            values: dict[str, Any] = {
                name: getattr(item, name)
                for name in sent
                if name in ("name", "start", "end", "multiplier", "rounding")
            }
            if values.get("multiplier") == 1:
                raise Invalid("multiplier must not be 1")
            if "user_attributes" in sent:
                if row.user_pk is not None and item.user_attributes:
                    raise Invalid("userAttributes cannot be set on a boost for one user")
                values["user_attributes"] = filters(item.user_attributes, "user", config)
            merged = {**row._mapping, **values}
            if merged["end"] is not None and merged["end"] < merged["start"]:
                raise Invalid("end must not be before start")
        except Invalid as exc:
            issues.append(AdminIssue(id=item.id, severity="error", message=str(exc)))
            continue
        sent_started = row.announce != "started"  # its start was announced already
        if "start" in values or "end" in values:
            values.update(
                _announce_values(_Row(merged), row.user_tz, config, now, sent_started=sent_started)
            )
        await conn.execute(
            update(points_boosts).where(points_boosts.c.id == item_id).values(**values, updated=now)
        )
        fresh = (await _boost_rows(conn, system.id, boost_id=item_id))[0]
        updated.append(boost_wire(fresh, fresh.user_id, fresh.user_tz, config, now))
    return updated


async def archive_boosts(
    conn: AsyncConnection, system: Any, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    deleted: list[DeletedResource] = []
    issues: list[AdminIssue] = []
    for raw in raw_ids:
        item_id = parse_uuid(raw)
        done = None
        if item_id is not None:
            done = await conn.execute(
                update(points_boosts)
                .where(
                    points_boosts.c.id == item_id,
                    points_boosts.c.system_id == system.id,
                    points_boosts.c.status == "live",
                )
                .values(status="archived", announce_at=None, announce=None, updated=now)
            )
        if done is None or not done.rowcount:
            issues.append(
                AdminIssue(boost_id=raw, severity="error", message=f"{BOOST} not found by ID")
            )
            continue
        deleted.append(DeletedResource(id=str(item_id)))
    return deleted, issues


async def list_boosts(
    conn: AsyncConnection,
    config: ScopeConfig,
    system: Any,
    now: dt.datetime,
    *,
    limit: int,
    skip: int,
) -> list[dict[str, Any]]:
    rows = (await _boost_rows(conn, system.id))[skip : skip + limit]
    return [boost_wire(r, r.user_id, r.user_tz, config, now) for r in rows]


async def get_boost(
    conn: AsyncConnection, config: ScopeConfig, system: Any, raw_id: str, now: dt.datetime
) -> dict[str, Any]:
    item_id = admin_crud.path_uuid(raw_id, BOOST)
    found = await _boost_rows(conn, system.id, boost_id=item_id)
    if not found:
        raise NotFound(f"{BOOST} not found")
    return boost_wire(found[0], found[0].user_id, found[0].user_tz, config, now)
