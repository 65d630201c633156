"""Loading, locking and upserting users.

`upsert` locks every existing user it touches (`SELECT … FOR UPDATE` on PostgreSQL, in id
order so concurrent batches cannot deadlock; SQLite writers are already serialized). Every
later step of an event for that user therefore runs one request at a time, which is what
makes parallel events exact.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import fastsql
from plaudit.core.db import insert_for
from plaudit.core.errors import NotFound, Unprocessable
from plaudit.core.fastsql import FastStatement
from plaudit.platform.config import ScopeConfig
from plaudit.users import rules
from plaudit.users.rules import UserState
from plaudit.users.schemas import UpdatedUser, UpsertedUser, User
from plaudit.users.tables import users

_COLUMNS = (
    users.c.pk,
    users.c.id,
    users.c.name,
    users.c.email,
    users.c.tz,
    users.c.device_tokens,
    users.c.subscribe_to_emails,
    users.c.attributes,
    users.c.control,
    users.c.sign_up_date,
    users.c.created,
    users.c.updated,
)


def _state(row: Any) -> UserState:
    return UserState(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        tz=row["tz"],
        device_tokens=tuple(row["device_tokens"]) if row["device_tokens"] else None,
        subscribe_to_emails=row["subscribe_to_emails"],
        attributes=dict(row["attributes"] or {}),
        control=row["control"],
        sign_up_date=row["sign_up_date"],
        created=row["created"],
        updated=row["updated"],
        pk=row["pk"],
    )


def to_wire(state: UserState) -> User:
    return User(
        id=state.id,
        email=state.email,
        name=state.name,
        tz=state.tz,
        device_tokens=list(state.device_tokens) if state.device_tokens else None,
        subscribe_to_emails=state.subscribe_to_emails,
        attributes=state.attributes,
        control=state.control,
        created=state.created,
        updated=state.updated,
        sign_up_date=state.sign_up_date,
    )


def _row_values(state: UserState) -> dict[str, Any]:
    return {
        "name": state.name,
        "email": state.email,
        "tz": state.tz,
        "device_tokens": list(state.device_tokens) if state.device_tokens else None,
        "subscribe_to_emails": state.subscribe_to_emails,
        "attributes": state.attributes,
        "sign_up_date": state.sign_up_date,
        "updated": state.updated,
    }


# Every read of a user's progress starts here: compiled once, not built per request.
_FIND = FastStatement(
    lambda _dialect: select(*_COLUMNS).where(
        users.c.scope_id == bindparam("scope_id"), users.c.id == bindparam("user_id")
    )
)


async def find(conn: AsyncConnection, scope_id: int, user_id: str) -> UserState | None:
    rows = await fastsql.fetch(conn, _FIND, {"scope_id": scope_id, "user_id": user_id})
    return _state(rows[0]) if rows else None


def user_not_found(user_id: str) -> NotFound:
    return NotFound(f"User '{user_id}' not found")


async def get(conn: AsyncConnection, scope_id: int, user_id: str) -> UserState:
    state = await find(conn, scope_id, user_id)
    if state is None:
        raise user_not_found(user_id)
    return state


def id_among(dialect: str) -> ColumnElement[bool]:
    """`users.id` is one of the list bound as `ids`, for a `FastStatement`: one array (or,
    on SQLite, one JSON) parameter rather than an expanding IN, so it compiles once."""
    if dialect == "postgresql":
        return users.c.id == any_(bindparam("ids", type_=ARRAY(String)))
    return users.c.id.in_(
        select(literal_column("value")).select_from(func.json_each(bindparam("ids", type_=JSON)))
    )


def _build_lock(dialect: str) -> Select[Any]:
    query = (
        select(*_COLUMNS)
        .where(users.c.scope_id == bindparam("scope_id"), id_among(dialect))
        .order_by(users.c.id)
    )
    return query.with_for_update(of=users) if dialect == "postgresql" else query


_LOCK = FastStatement(_build_lock)


async def lock(
    conn: AsyncConnection, scope_id: int, user_ids: Iterable[str]
) -> dict[str, UserState]:
    """Load and lock users (`FOR UPDATE`, in id order so batches cannot deadlock)."""
    rows = await fastsql.fetch(conn, _LOCK, {"scope_id": scope_id, "ids": sorted(set(user_ids))})
    return {row["id"]: _state(row) for row in rows}


async def locked_states(conn: AsyncConnection, scope_id: int, pks: list[int]) -> list[UserState]:
    """Users by internal key, locked like `lock` (for sweeps that work on many users)."""
    if not pks:
        return []
    query = (
        select(*_COLUMNS)
        .where(users.c.scope_id == scope_id, users.c.pk.in_(pks))
        .order_by(users.c.id)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=users)
    return [_state(row) for row in (await conn.execute(query)).mappings()]


@dataclass(frozen=True, slots=True)
class Upserted:
    state: UserState
    created: bool
    # Attributes or signUpDate changed (or a new user has some): achievements may now apply.
    eligibility_changed: bool = False


def _control_draw(config: ScopeConfig) -> bool:
    return random.random() * 100 < config.settings.experimentation.control_ratio


async def upsert(
    conn: AsyncConnection,
    config: ScopeConfig,
    patches: Sequence[UpsertedUser],
    now: dt.datetime,
) -> dict[str, Upserted]:
    """Apply each patch in order (several may name the same user); lock, create, update."""
    for patch in patches:
        rules.check_patch(patch, config.user_attribute_keys)
    by_user: dict[str, list[UpsertedUser]] = {}
    for patch in patches:
        by_user.setdefault(patch.id, []).append(patch)
    default_tz = config.settings.default_timezone
    existing = await lock(conn, config.scope_id, by_user)

    def fold(start: UserState, user_patches: list[UpsertedUser]) -> UserState:
        state = start
        for patch in user_patches:
            state = rules.apply_patch(state, patch, now, default_tz)
        return state

    results: dict[str, Upserted] = {}
    missing = sorted(uid for uid in by_user if uid not in existing)
    if missing:
        fresh = {
            uid: fold(rules.new_user(uid, now, control=_control_draw(config)), by_user[uid])
            for uid in missing
        }
        inserted = await _insert_new(conn, config.scope_id, list(fresh.values()))
        for uid, state in fresh.items():
            if uid in inserted:
                eligibility = bool(state.attributes) or state.sign_up_date is not None
                results[uid] = Upserted(_with_pk(state, inserted[uid]), True, eligibility)
        raced = [uid for uid in missing if uid not in inserted]
        if raced:  # created by a concurrent request since we looked: update it instead
            existing.update(await lock(conn, config.scope_id, raced))
    changed: list[UserState] = []
    for uid, before in existing.items():
        after = fold(before, by_user[uid])
        if after.profile() != before.profile():
            changed.append(after)
        eligibility = (after.attributes, after.sign_up_date) != (
            before.attributes,
            before.sign_up_date,
        )
        results[uid] = Upserted(after, False, eligibility)
    await _update_changed(conn, changed)
    return results


def _with_pk(state: UserState, pk: int) -> UserState:
    return replace(state, pk=pk)


async def _insert_new(
    conn: AsyncConnection, scope_id: int, states: list[UserState]
) -> dict[str, int]:
    rows = [
        {
            **_row_values(state),
            "scope_id": scope_id,
            "id": state.id,
            "control": state.control,
            "created": state.created,
        }
        for state in states
    ]
    return {row["id"]: row["pk"] for row in await fastsql.fetch_rows(conn, _INSERT, rows)}


_INSERT = FastStatement(
    lambda dialect: (
        insert_for(dialect, users)
        .on_conflict_do_nothing(index_elements=["scope_id", "id"])
        .returning(users.c.id, users.c.pk)
    )
)


_UPDATE = (
    update(users)
    .where(users.c.pk == bindparam("b_pk"))
    .values(
        {
            name: bindparam(f"b_{name}")
            for name in (
                "name",
                "email",
                "tz",
                "device_tokens",
                "subscribe_to_emails",
                "attributes",
                "sign_up_date",
                "updated",
            )
        }
    )
)


async def _update_changed(conn: AsyncConnection, states: list[UserState]) -> None:
    if not states:
        return
    params = [
        {"b_pk": state.pk, **{f"b_{name}": value for name, value in _row_values(state).items()}}
        for state in states
    ]
    await conn.execute(_UPDATE, params)


async def create_one(
    conn: AsyncConnection, config: ScopeConfig, patch: UpsertedUser, now: dt.datetime
) -> Upserted:
    """POST /users: a new user, or 422 when the id is taken."""
    rules.check_patch(patch, config.user_attribute_keys)
    state = rules.apply_patch(
        rules.new_user(patch.id, now, control=_control_draw(config)),
        patch,
        now,
        config.settings.default_timezone,
    )
    inserted = await _insert_new(conn, config.scope_id, [state])
    if patch.id not in inserted:
        raise Unprocessable(f"User '{patch.id}' already exists")
    eligibility = bool(state.attributes) or state.sign_up_date is not None
    return Upserted(_with_pk(state, inserted[patch.id]), True, eligibility)


async def update_one(
    conn: AsyncConnection, config: ScopeConfig, user_id: str, patch: UpdatedUser, now: dt.datetime
) -> Upserted:
    """PATCH /users/{id}: change an existing user, 404 when there is none."""
    rules.check_patch(patch, config.user_attribute_keys)
    locked = await lock(conn, config.scope_id, [user_id])
    if user_id not in locked:
        raise user_not_found(user_id)
    before = locked[user_id]
    after = rules.apply_patch(before, patch, now, config.settings.default_timezone)
    if after.profile() != before.profile():
        await _update_changed(conn, [after])
    eligibility = (after.attributes, after.sign_up_date) != (before.attributes, before.sign_up_date)
    return Upserted(after, False, eligibility)
