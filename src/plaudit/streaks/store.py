"""Reading and writing streak state: the rules' `StreakState` as a JSON document, its
history as one row per period.

The document leaves out the history: the rules add or replace the entries of the periods a
transition touches, and `save` upserts exactly those, so an event never reads or rewrites
the periods before. A stamp of an earlier reset in the same period survives the upsert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import dialect_insert
from plaudit.streaks.rules import HistoryEntry, PastStreak, Pause, Period, StreakState
from plaudit.streaks.tables import streak_periods, user_streaks
from plaudit.users.tables import user_preferences, users


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _period(value: list[str] | None) -> Period | None:
    return (
        Period(dt.date.fromisoformat(value[0]), dt.date.fromisoformat(value[1])) if value else None
    )


def _period_doc(period: Period | None) -> list[str] | None:
    return [period.start.isoformat(), period.end.isoformat()] if period else None


def _instant_doc(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_document(state: StreakState) -> dict[str, Any]:
    return {
        "frequency": state.frequency,
        "tz": state.tz,
        "today": state.today.isoformat(),
        "freezeAnchor": state.freeze_anchor.isoformat(),
        "length": state.length,
        "started": state.started.isoformat() if state.started else None,
        "covered": _period_doc(state.covered),
        "lastExtendedAt": _instant_doc(state.last_extended_at),
        "freezes": state.freezes,
        "sums": [[metric, value] for metric, value in state.sums],
        "pauses": [
            {"id": p.id, "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in state.pauses
        ],
        "past": [
            {
                "length": p.length,
                "started": p.started.isoformat(),
                "lastPeriod": _period_doc(p.last_period),
                "lastExtendedAt": _instant_doc(p.last_extended_at),
            }
            for p in state.past
        ],
    }


def from_document(doc: dict[str, Any]) -> StreakState:
    return StreakState(
        frequency=doc["frequency"],
        tz=doc["tz"],
        today=dt.date.fromisoformat(doc["today"]),
        freeze_anchor=dt.date.fromisoformat(doc["freezeAnchor"]),
        length=doc["length"],
        started=_date(doc["started"]),
        covered=_period(doc["covered"]),
        last_extended_at=_instant(doc["lastExtendedAt"]),
        freezes=doc["freezes"],
        sums=tuple((metric, int(value)) for metric, value in doc["sums"]),
        pauses=tuple(
            Pause(p["id"], dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]))
            for p in doc["pauses"]
        ),
        past=tuple(
            PastStreak(
                p["length"],
                dt.date.fromisoformat(p["started"]),
                Period(*(dt.date.fromisoformat(d) for d in p["lastPeriod"])),
                _instant(p["lastExtendedAt"]),
            )
            for p in doc["past"]
        ),
    )


@dataclass(frozen=True, slots=True)
class Stored:
    state: StreakState | None  # None: no streak stored yet
    longest: int
    preferences: dict[str, Any] | None  # the user's `streak` preferences, if any


async def load(conn: AsyncConnection, user_pks: Sequence[int]) -> dict[int, Stored]:
    """The stored streaks and streak preferences of these users, in one query.

    Callers hold the users' rows locked (the event pipeline's upsert, the sweep's claim):
    that lock, not one on the streak row, is what serializes writers of a user's streak.
    """
    if not user_pks:
        return {}
    rows = await conn.execute(
        select(
            users.c.pk,
            user_streaks.c.state,
            user_streaks.c.longest,
            user_preferences.c.streak,
        )
        .select_from(users)
        .outerjoin(user_streaks, user_streaks.c.user_pk == users.c.pk)
        .outerjoin(user_preferences, user_preferences.c.user_pk == users.c.pk)
        .where(users.c.pk.in_(sorted(set(user_pks))))
    )
    return {
        r.pk: Stored(
            from_document(dict(r.state)) if r.state is not None else None,
            r.longest or 0,
            dict(r.streak) if r.streak is not None else None,
        )
        for r in rows
    }


@dataclass(frozen=True, slots=True)
class Change:
    """One user's streak to write."""

    user_pk: int
    state: StreakState
    longest: int  # as stored before
    next_due: dt.datetime | None


async def save(
    conn: AsyncConnection,
    scope_id: int,
    user_pk: int,
    state: StreakState,
    longest: int,
    next_due: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """Write one user's state (see `save_many`)."""
    await save_many(conn, scope_id, [Change(user_pk, state, longest, next_due)], now)


async def save_many(
    conn: AsyncConnection, scope_id: int, changes: Sequence[Change], now: dt.datetime
) -> None:
    """Write the states (without history) and upsert the history entries they carry: two
    statements however many users (the sweep writes a thousand at a time)."""
    if not changes:
        return
    # One statement executed for many rows: compiled once (a thousand-row VALUES would be
    # compiled anew every time), sent as one pipelined batch.
    statement = dialect_insert(conn, user_streaks)
    upsert = statement.on_conflict_do_update(
        index_elements=["user_pk"],
        set_={
            name: statement.excluded[name]
            for name in ("state", "length", "longest", "last_extended_at", "next_due", "updated")
        },
    )
    await conn.execute(
        upsert,
        [
            {
                "user_pk": c.user_pk,
                "scope_id": scope_id,
                "state": to_document(c.state),
                "length": c.state.length,
                "longest": max(c.longest, c.state.length),
                "last_extended_at": c.state.last_extended_at,
                "next_due": c.next_due,
                "updated": now,
            }
            for c in changes
        ],
    )
    entries = [(c.user_pk, e) for c in changes for e in c.state.history]
    if entries:
        await _save_history(conn, entries)


async def _save_history(conn: AsyncConnection, entries: Sequence[tuple[int, HistoryEntry]]) -> None:
    statement = dialect_insert(conn, streak_periods)
    upsert = statement.on_conflict_do_update(
        index_elements=["user_pk", "period_start"],
        set_={
            "period_end": statement.excluded.period_end,
            "length": statement.excluded.length,
            "used_freeze": statement.excluded.used_freeze,
            "used_pause": statement.excluded.used_pause,
            "reset_at": func.coalesce(statement.excluded.reset_at, streak_periods.c.reset_at),
        },
    )
    await conn.execute(
        upsert,
        [
            {
                "user_pk": user_pk,
                "period_start": e.period.start,
                "period_end": e.period.end,
                "length": e.length,
                "used_freeze": e.used_freeze,
                "used_pause": e.used_pause,
                "reset_at": e.reset_at,
            }
            for user_pk, e in entries
        ],
    )


async def load_history(
    conn: AsyncConnection, user_pk: int, since: dt.date
) -> tuple[HistoryEntry, ...]:
    rows = await conn.execute(
        select(streak_periods)
        .where(streak_periods.c.user_pk == user_pk, streak_periods.c.period_end >= since)
        .order_by(streak_periods.c.period_start)
    )
    return tuple(
        HistoryEntry(
            Period(r.period_start, r.period_end),
            r.length,
            used_freeze=r.used_freeze,
            used_pause=r.used_pause,
            reset_at=r.reset_at,
        )
        for r in rows
    )


def without_history(state: StreakState) -> StreakState:
    return replace(state, history=()) if state.history else state
