"""Admin actions on users' streaks: grant freezes, create and delete pauses, restore, reset.

Every action follows the event path's pattern: lock the users' rows first (the lock that
serializes every writer of a user's streak: events, the sweep and these actions), load
their streaks, bring each to `now` with `service.current`, apply the rules' transition
item by item, then save what changed and write the outbox rows of what happened. What the
catch-up itself produced (a streak lost or a freeze consumed at a midnight the sweep has
not reached yet) is announced like the sweep would have; the actions add only
`streak.freeze_earned` for granted freezes (one per user per request).

One item's problem is an issue (`severity` error or warning, keyed by `userId`, or by
`id` for deletions), never a failed request; a body that does not match the schema fails
as a whole and writes nothing. Issues carry the older Node SDK's spelling too (`level`,
`reason`).

Decisions where streaks.md is silent:
- Streaks off in the scope (no streak metric): every known user gets the error issue
  "Streaks are not enabled"; freezes disabled: "Streak freezes are not enabled".
- A user who turned streaks off (`streak.enabled: false`) has no streak to reset and none
  to restore (warnings); freezes and pauses may still be given to them.
- A reset with no running streak is the warning "No streak to reset".
- Deleting a pause archives its record; an archived (or unknown, or another scope's) id
  is "Streak pause not found by ID". Periods it already excused stay excused.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictStr, computed_field
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion as achievements
from plaudit.achievements import rules as achievement_rules
from plaudit.core.ids import new_id, parse_uuid
from plaudit.core.schemas import AdminIssue, ApiModel, Date, DeletedResource, RequestModel
from plaudit.platform.config import ScopeConfig
from plaudit.streaks import rules, service, store
from plaudit.streaks.rules import StreakSettings, StreakState
from plaudit.streaks.store import Stored
from plaudit.streaks.tables import streak_pauses
from plaudit.users import service as users
from plaudit.users.rules import UserState
from plaudit.webhooks.outbox import WebhookEvent, emit

MAX_ITEMS = 100

USER_NOT_FOUND = "User does not exist"
STREAKS_OFF = "Streaks are not enabled"
FREEZES_OFF = "Streak freezes are not enabled"
OVER_MAXIMUM = "Would exceed maximum freeze limit"
NOTHING_TO_RESTORE = "No streak to restore"
NOTHING_TO_RESET = "No streak to reset"
PAUSE_NOT_FOUND = "Streak pause not found by ID"
NOT_A_UUID = "id must be a valid UUID"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> dt.date:
    """A `YYYY-MM-DD` string (JSON has no dates: numbers and other shapes are refused)."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date in YYYY-MM-DD format")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


# --- wire models -------------------------------------------------------------------------


class StreakFreezeItem(RequestModel):
    user_id: StrictStr


class CreateStreakFreezesRequest(RequestModel):
    freezes: list[StreakFreezeItem] = Field(min_length=1, max_length=MAX_ITEMS)


class StreakPauseItem(RequestModel):
    user_id: StrictStr
    start: IsoDate
    end: IsoDate


class CreateStreakPausesRequest(RequestModel):
    pauses: list[StreakPauseItem] = Field(min_length=1, max_length=MAX_ITEMS)


class StreakUserItem(RequestModel):
    id: StrictStr


class StreakUsersRequest(RequestModel):
    """`POST /streaks/restore` and `POST /streaks/reset`."""

    users: list[StreakUserItem] = Field(min_length=1, max_length=MAX_ITEMS)


class StreakIssue(AdminIssue):
    """An AdminIssue, also spelled the way the older Node SDK parses issues."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def level(self) -> str:
        return self.severity

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason(self) -> str:
        return self.message


class CreateStreakFreezesResponse(ApiModel):
    issues: list[StreakIssue]


class AdminStreakPause(ApiModel):
    id: str
    user_id: str
    start: Date
    end: Date
    status: Literal["active", "archived"]


class CreateStreakPausesResponse(ApiModel):
    created: list[AdminStreakPause]
    issues: list[StreakIssue]


class DeleteStreakPausesResponse(ApiModel):
    deleted: list[DeletedResource]
    issues: list[StreakIssue]


class RestoreStreaksResponse(ApiModel):
    restored_users: list[str]
    issues: list[StreakIssue]


class ResetStreaksResponse(ApiModel):
    reset_users: list[str]
    issues: list[StreakIssue]


def _error(user_id: str, message: str) -> StreakIssue:
    return StreakIssue(user_id=user_id, severity="error", message=message)


def _warning(user_id: str, message: str) -> StreakIssue:
    return StreakIssue(user_id=user_id, severity="warning", message=message)


# --- loading and saving ------------------------------------------------------------------


@dataclass(slots=True)
class _Streak:
    """One user's streak while an action works on it."""

    user: UserState
    stored: Stored
    settings: StreakSettings
    state: StreakState
    effects: list[rules.Effect] = field(default_factory=list)


@dataclass(slots=True)
class _Loaded:
    known: dict[str, UserState]  # locked users by id
    streaks: dict[str, _Streak]  # those whose scope has streaks on

    def problem(self, user_id: str) -> str | None:
        """The error that stops any action on this user, if any."""
        if user_id not in self.known:
            return USER_NOT_FOUND
        if user_id not in self.streaks:
            return STREAKS_OFF
        return None


async def _load(
    conn: AsyncConnection, config: ScopeConfig, user_ids: Sequence[str], now: dt.datetime
) -> _Loaded:
    """Lock the users, then bring each one's streak to `now`."""
    known = await users.lock(conn, config.scope_id, user_ids)
    pks = [u.pk for u in known.values() if u.pk is not None]
    loaded = await store.load(conn, pks) if config.streaks.enabled else {}
    streaks: dict[str, _Streak] = {}
    for user_id, user in known.items():
        assert user.pk is not None
        stored = loaded.get(user.pk, Stored(None, 0, None))
        settings = service.effective_settings(config, stored.preferences)
        if settings is None:
            continue
        step = service.current(stored, settings, config, user, now)
        streaks[user_id] = _Streak(user, stored, settings, step.state, list(step.effects))
    return _Loaded(known, streaks)


async def _save(
    conn: AsyncConnection, config: ScopeConfig, streaks: Sequence[_Streak], now: dt.datetime
) -> None:
    """Save every state that changed and write the outbox rows of its effects."""
    changes: list[store.Change] = []
    events: list[WebhookEvent] = []
    lengths: list[tuple[UserState, int]] = []
    for s in streaks:
        assert s.user.pk is not None
        if s.state.length != (0 if s.stored.state is None else s.stored.state.length):
            lengths.append((s.user, s.state.length))
        if s.state != s.stored.state:
            next_due = rules.next_due(s.state, s.settings, now)
            changes.append(store.Change(s.user.pk, s.state, s.stored.longest, next_due))
        if s.settings.enabled and s.effects:
            events += service.webhook_events(
                s.user, s.state, s.settings, s.effects, now, config.webhooks
            )
    await store.save_many(conn, config.scope_id, changes, now)
    await emit(conn, config.scope_id, events, now, interest=config.webhooks)
    await service.lengths_changed(conn, config, lengths, now)


# --- freezes -----------------------------------------------------------------------------


async def grant_freezes(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[StreakFreezeItem],
    now: dt.datetime,
) -> tuple[int, list[StreakIssue]]:
    """One freeze per item, in order; returns how many were granted and the issues."""
    loaded = await _load(conn, config, [item.user_id for item in items], now)
    issues: list[StreakIssue] = []
    granted: Counter[str] = Counter()
    for item in items:
        user_id = item.user_id
        problem = loaded.problem(user_id)
        streak = loaded.streaks.get(user_id)
        if problem is None and streak is not None and streak.settings.freezes is None:
            problem = FREEZES_OFF
        if problem is not None or streak is None:
            issues.append(_error(user_id, problem or STREAKS_OFF))
            continue
        step = rules.grant_freeze(streak.state, streak.settings, now)
        if step is None:
            issues.append(_warning(user_id, OVER_MAXIMUM))
            continue
        streak.state = step.state
        # The state is already current: the step's only effect is this grant.
        streak.effects.extend(e for e in step.effects if not isinstance(e, rules.FreezeEarned))
        granted[user_id] += 1
    for user_id, count in granted.items():
        streak = loaded.streaks[user_id]
        streak.effects.append(rules.FreezeEarned(streak.state.today, count, streak.state.freezes))
    await _save(conn, config, list(loaded.streaks.values()), now)
    return sum(granted.values()), issues


# --- pauses ------------------------------------------------------------------------------


async def create_pauses(
    conn: AsyncConnection,
    config: ScopeConfig,
    items: Sequence[StreakPauseItem],
    now: dt.datetime,
) -> tuple[list[AdminStreakPause], list[StreakIssue]]:
    """Validate and add each pause in order (later items see the earlier ones)."""
    loaded = await _load(conn, config, [item.user_id for item in items], now)
    created: list[AdminStreakPause] = []
    issues: list[StreakIssue] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        user_id = item.user_id
        problem = loaded.problem(user_id)
        streak = loaded.streaks.get(user_id)
        if problem is None and streak is not None:
            problem = rules.pause_problem(streak.state, item.start, item.end, now)
        if problem is not None or streak is None:
            issues.append(_error(user_id, problem or STREAKS_OFF))
            continue
        pause = rules.Pause(str(new_id()), item.start, item.end)
        streak.state = rules.add_pause(streak.state, pause)
        assert streak.user.pk is not None
        rows.append(
            {
                "id": uuid.UUID(pause.id),
                "scope_id": config.scope_id,
                "user_pk": streak.user.pk,
                "start": pause.start,
                "end": pause.end,
                "status": "active",
                "created": now,
                "updated": now,
            }
        )
        created.append(
            AdminStreakPause(
                id=pause.id, user_id=user_id, start=pause.start, end=pause.end, status="active"
            )
        )
    if rows:
        await conn.execute(insert(streak_pauses), rows)
    await _save(conn, config, list(loaded.streaks.values()), now)
    return created, issues


async def delete_pauses(
    conn: AsyncConnection, config: ScopeConfig, ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[StreakIssue]]:
    """Archive the pauses and take them out of their users' streaks."""
    issues: list[StreakIssue] = []
    wanted: dict[str, uuid.UUID] = {}
    for raw in ids:
        parsed = parse_uuid(raw)
        if parsed is None:
            issues.append(StreakIssue(id=raw, severity="error", message=NOT_A_UUID))
        else:
            wanted[raw] = parsed
    holders: dict[uuid.UUID, int] = {}
    if wanted:
        rows = await conn.execute(
            select(streak_pauses.c.id, streak_pauses.c.user_pk).where(
                streak_pauses.c.id.in_(set(wanted.values())),
                streak_pauses.c.scope_id == config.scope_id,
                streak_pauses.c.status == "active",
            )
        )
        holders = {row.id: row.user_pk for row in rows}
    # Lock the holders first, then archive: of two parallel deletions only one wins.
    locked = await users.locked_states(conn, config.scope_id, sorted(set(holders.values())))
    archived: set[uuid.UUID] = set()
    if holders:
        result = await conn.execute(
            update(streak_pauses)
            .where(streak_pauses.c.id.in_(list(holders)), streak_pauses.c.status == "active")
            .values(status="archived", updated=now)
            .returning(streak_pauses.c.id)
        )
        archived = {row.id for row in result}
    by_user: dict[int, set[str]] = {}
    for pause_id in archived:
        by_user.setdefault(holders[pause_id], set()).add(str(pause_id))
    await _remove_from_states(conn, config, locked, by_user, now)
    deleted: list[DeletedResource] = []
    for raw, pause_id in wanted.items():
        if pause_id in archived:
            deleted.append(DeletedResource(id=str(pause_id)))
            archived.discard(pause_id)  # two spellings of one id (upper/lower case): once
        elif not any(d.id == str(pause_id) for d in deleted):
            issues.append(StreakIssue(id=raw, severity="error", message=PAUSE_NOT_FOUND))
    return deleted, _in_order(issues, ids)


async def _remove_from_states(
    conn: AsyncConnection,
    config: ScopeConfig,
    locked: Sequence[UserState],
    by_user: dict[int, set[str]],
    now: dt.datetime,
) -> None:
    if not by_user:
        return
    loaded = await store.load(conn, list(by_user))
    changed: list[_Streak] = []
    for user in locked:
        assert user.pk is not None
        stored = loaded.get(user.pk)
        if user.pk not in by_user or stored is None or stored.state is None:
            continue
        settings = service.effective_settings(config, stored.preferences)
        if settings is None:
            # Streaks are off: nothing to catch up, and nothing is due (as the sweep leaves it).
            state = stored.state
            for pause_id in by_user[user.pk]:
                state = rules.remove_pause(state, pause_id)
            if state != stored.state:
                await store.save(conn, config.scope_id, user.pk, state, stored.longest, None, now)
            continue
        step = service.current(stored, settings, config, user, now)
        streak = _Streak(user, stored, settings, step.state, list(step.effects))
        for pause_id in by_user[user.pk]:
            streak.state = rules.remove_pause(streak.state, pause_id)
        changed.append(streak)
    await _save(conn, config, changed, now)


def _in_order(issues: list[StreakIssue], ids: Sequence[str]) -> list[StreakIssue]:
    position = {raw: index for index, raw in enumerate(ids)}
    return sorted(issues, key=lambda issue: position.get(issue.id or "", len(ids)))


# --- restore and reset -------------------------------------------------------------------


async def restore(
    conn: AsyncConnection, config: ScopeConfig, user_ids: Sequence[str], now: dt.datetime
) -> tuple[list[str], list[StreakIssue]]:
    """Restore each user's streak to the longest one reached in the restore window. No
    started/extended webhooks; streak achievements the restored length reaches complete
    silently (backdated)."""
    loaded = await _load(conn, config, user_ids, now)
    restored: list[str] = []
    issues: list[StreakIssue] = []
    for user_id in user_ids:
        problem = loaded.problem(user_id)
        streak = loaded.streaks.get(user_id)
        if problem is not None or streak is None:
            issues.append(_error(user_id, problem or STREAKS_OFF))
            continue
        enabled = streak.settings.enabled
        step = rules.restore(streak.state, streak.settings, now) if enabled else None
        if step is None:
            issues.append(_warning(user_id, NOTHING_TO_RESTORE))
            continue
        streak.state = step.state
        streak.effects.extend(step.effects)
        restored.append(user_id)
    for user_id in restored:
        streak = loaded.streaks[user_id]
        await _complete_silently(conn, config, streak.user, streak.state.length, now)
    await _save(conn, config, list(loaded.streaks.values()), now)
    return restored, issues


async def _complete_silently(
    conn: AsyncConnection, config: ScopeConfig, user: UserState, length: int, now: dt.datetime
) -> None:
    candidates = [
        a
        for a in config.achievements
        if a.trigger == "streak"
        and a.completable
        and a.streak_length is not None
        and a.streak_length <= length
        and achievement_rules.user_matches(a, user.attributes)
    ]
    if candidates:
        await achievements.complete(conn, config, user, candidates, now, backdated=True)


async def reset(
    conn: AsyncConnection, config: ScopeConfig, user_ids: Sequence[str], now: dt.datetime
) -> tuple[list[str], list[StreakIssue]]:
    """Set each user's running streak to 0 (recorded as `resetAt` on the open period; kept
    for restore). Freezes and pauses stay; no webhook."""
    loaded = await _load(conn, config, user_ids, now)
    done: list[str] = []
    issues: list[StreakIssue] = []
    for user_id in user_ids:
        problem = loaded.problem(user_id)
        streak = loaded.streaks.get(user_id)
        if problem is not None or streak is None:
            issues.append(_error(user_id, problem or STREAKS_OFF))
            continue
        enabled = streak.settings.enabled
        step = rules.reset(streak.state, streak.settings, now) if enabled else None
        if step is None:
            issues.append(_warning(user_id, NOTHING_TO_RESET))
            continue
        streak.state = step.state
        streak.effects.extend(step.effects)
        done.append(user_id)
    await _save(conn, config, list(loaded.streaks.values()), now)
    return done, issues
