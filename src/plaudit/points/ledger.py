"""Recording awards: trigger firings turned into ledger rows and balance changes.

The caller holds the users' rows locked (the event pipeline's upsert, a sweep's claim, an
API call's upsert), so the balances read here cannot change underneath. Firings are
applied in order against the running balances (boosts, cap, floor), then `flush` writes
every award row, every changed balance and the webhooks in a few statements.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.errors import Unprocessable
from plaudit.core.ids import new_ids
from plaudit.core.periods import local_date
from plaudit.platform.config import ScopeConfig
from plaudit.points import hooks, rules, store, views
from plaudit.points.config import Boost, Level, System, Trigger
from plaudit.points.rules import Marks
from plaudit.users.rules import UserState
from plaudit.users.service import to_wire as user_wire
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted


@dataclass(frozen=True, slots=True)
class Firing:
    trigger: Trigger
    count: int = 1  # thresholds crossed (metric triggers); 1 otherwise


@dataclass(frozen=True, slots=True)
class Recorded:
    id: uuid.UUID
    system: System
    user: UserState
    trigger: Trigger
    awarded: int
    total: int
    boosts: tuple[Boost, ...]
    at: dt.datetime
    event_id: uuid.UUID | None


@dataclass(slots=True)
class Entry:
    """What one request (an event, a sweep step) did to one user's balance in one system."""

    system: System
    before: int
    total: int
    awards: list[Recorded] = field(default_factory=list)
    _wire: dict[str, Any] | None = None

    def wire(self, config: ScopeConfig, now: dt.datetime) -> dict[str, Any]:
        """MetricEventPointsResponse (the same object serves the response and the webhook)."""
        if self._wire is None:
            self._wire = views.event_entry(config, self, now)
        return self._wire

    @property
    def added(self) -> int:
        return self.total - self.before

    def level_change(self) -> tuple[Level | None, Level | None] | None:
        """(previous, new) when the level changed, else None."""
        old = rules.level_for(self.system.levels, self.before)
        new = rules.level_for(self.system.levels, self.total)
        return None if old == new else (old, new)


class Ledger:
    def __init__(self, config: ScopeConfig, now: dt.datetime) -> None:
        self.config = config
        self.now = now
        self.balances: dict[tuple[int, uuid.UUID], int] = {}
        self.changed: set[tuple[int, uuid.UUID]] = set()
        self.recorded: list[Recorded] = []
        self.marks: dict[store.MarkKey, Marks] = {}  # changed marks, written by `flush`
        self.groups: list[tuple[UserState, dict[uuid.UUID, Entry]]] = []
        self._loaded: set[int] = set()

    async def load(self, conn: AsyncConnection, pks: Iterable[int]) -> dict[store.MarkKey, Marks]:
        """Read the balances of `pks` not yet loaded; their metric triggers' marks are
        returned (read in the same statement), for the caller to step and hand back in
        `marks` to be written with the awards."""
        wanted = set(pks) - self._loaded
        if not wanted:
            return {}
        found = await store.state(conn, wanted)
        self.balances.update(found.balances)
        self._loaded.update(wanted)
        return found.marks

    def apply(
        self, user: UserState, firings: Sequence[Firing], *, event_id: uuid.UUID | None = None
    ) -> dict[uuid.UUID, Entry]:
        """Apply `firings` in order for `user` (balances loaded); the entries per system.

        A flagged metric deduction that would take a balance below 0 refuses the whole
        request (nothing it did is committed)."""
        assert user.pk is not None
        assert user.pk in self._loaded
        entries: dict[uuid.UUID, Entry] = {}
        day = local_date(self.now, self.config.user_zone(user.tz))
        boosting: dict[uuid.UUID, tuple[Boost, ...]] = {}  # per system: same for every award
        ids = iter(new_ids(len(firings)))
        for firing in firings:
            trigger = firing.trigger
            system = self.config.points.by_id.get(trigger.system_id)
            if system is None:
                continue
            pair = (user.pk, system.id)
            balance = self.balances.get(pair, 0)
            raw = trigger.points * firing.count
            if trigger.block_if_out_of_points and trigger.type == "metric" and balance + raw < 0:
                raise Unprocessable(f"Insufficient points in points system '{system.key}'")
            boosts: tuple[Boost, ...] = ()
            if raw > 0 and system.boosts:
                boosts = boosting.get(system.id, ())
                if system.id not in boosting:
                    boosts = boosting[system.id] = tuple(
                        b
                        for b in system.boosts
                        if rules.boost_applies(b, user.pk, user.attributes, day)
                    )
            awarded = rules.settle(rules.boosted(raw, boosts), balance, system.max_points)
            if awarded == 0:
                continue
            entry = entries.get(system.id)
            if entry is None:
                entry = entries[system.id] = Entry(system, balance, balance)
            total = balance + awarded
            award = Recorded(
                next(ids), system, user, trigger, awarded, total, boosts, self.now, event_id
            )
            entry.awards.append(award)
            entry.total = total
            self.balances[pair] = total
            self.changed.add(pair)
            self.recorded.append(award)
        if entries:
            self.groups.append((user, entries))
        return entries

    def hook_awards(self) -> list[hooks.Award]:
        return [hooks.Award(r.user, r.system.id, r.awarded, r.at) for r in self.recorded]

    async def flush(self, conn: AsyncConnection) -> None:
        """Write the changed marks, the awards, the changed balances and the webhooks."""
        scope_id = self.config.scope_id
        snapshots: dict[int, list[dict[str, Any]]] = {}  # by id(): a request shares its tuples
        for r in self.recorded:
            if id(r.boosts) not in snapshots:
                snapshots[id(r.boosts)] = [views.boost_snapshot(b) for b in r.boosts]
        await store.write(
            conn,
            self.marks,
            [
                {
                    "id": r.id,
                    "scope_id": scope_id,
                    "system_id": r.system.id,
                    "user_pk": r.user.pk,
                    "trigger_id": r.trigger.id,
                    "awarded": r.awarded,
                    "total": r.total,
                    "boosts": snapshots[id(r.boosts)],
                    "event_id": r.event_id,
                    "created": r.at,
                }
                for r in self.recorded
            ],
            [
                {
                    "user_pk": pk,
                    "system_id": system_id,
                    "scope_id": scope_id,
                    "total": self.balances[(pk, system_id)],
                    "updated": self.now,
                }
                for pk, system_id in sorted(self.changed)
            ],
        )
        if self.groups:
            await emit(conn, scope_id, self.webhooks(), self.now, interest=self.config.webhooks)
        self.marks = {}
        self.recorded = []
        self.changed = set()
        self.groups = []

    def webhooks(self) -> list[WebhookEvent]:
        """The `points.changed` / `points.level_changed` events of the scope's active
        subscriptions: payloads of types nobody wants are not built."""
        interest = self.config.webhooks
        changed = wanted(interest, "points.changed")
        levels = wanted(interest, "points.level_changed")
        if not changed and not levels:
            return []
        out: list[WebhookEvent] = []
        for user, entries in self.groups:
            who: dict[str, Any] | None = None
            for entry in entries.values():
                change = entry.level_change() if levels else None
                if not changed and change is None:
                    continue
                who = who or user_wire(user).model_dump(mode="json", by_alias=True)
                if changed:
                    body = entry.wire(self.config, self.now)
                    out.append(WebhookEvent("points.changed", {"user": who, "points": body}))
                if change is not None:
                    payload = {
                        "user": who,
                        "points": {**views.system_base(entry.system), "total": entry.total},
                        "previousLevel": views.level(change[0]) if change[0] else None,
                        "newLevel": views.level(change[1]) if change[1] else None,
                    }
                    out.append(WebhookEvent("points.level_changed", payload))
        return out


async def record_elsewhere(
    conn: AsyncConnection,
    config: ScopeConfig,
    firings: Sequence[tuple[UserState, Sequence[Firing]]],
    now: dt.datetime,
) -> list[dict[uuid.UUID, Entry]]:
    """Awards outside the event pipeline (creation, API completions, sweeps): recorded,
    announced, and handed to every `hooks.AWARD_HOOKS` function in this transaction."""
    wanted = [(user, items) for user, items in firings if items]
    if not wanted:
        return [{} for _ in firings]
    ledger = Ledger(config, now)
    await ledger.load(conn, [user.pk for user, _ in wanted if user.pk is not None])
    results = [ledger.apply(user, items) if items else {} for user, items in firings]
    awards = ledger.hook_awards()
    await ledger.flush(conn)
    if awards:
        for hook in hooks.AWARD_HOOKS:
            await hook(conn, config, awards, now)
    return results
