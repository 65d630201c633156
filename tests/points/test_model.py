"""Points against an independent reference computation (hypothesis), and parallel events.

For random sequences of events, triggers added on the way and boosts, the balance equals
the sum of its ledger, never goes below 0 nor above `maxPoints`, and equals what a plain
re-statement of the rules computes. 64 parallel events for one user leave the same
balance and ledger as the same events sent one by one.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass, field
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from plaudit.points.tables import points_awards, points_balances
from tests.conftest import Stack
from tests.support.api import TestEnvironment, make_environment

MULTIPLIERS = [0.25, 0.5, 1.5, 2, 2.5, 3]


@dataclass
class RefTrigger:
    points: int
    threshold: int
    block: bool
    acc: int = 0
    hwm: int = 0


@dataclass
class Reference:
    """The rules of points.md restated as directly as possible, in whole units."""

    cap: int | None
    balance: int = 0
    triggers: list[RefTrigger] = field(default_factory=list)
    boosts: list[tuple[float, str]] = field(default_factory=list)

    def event(self, value: int) -> bool:
        """False when the event is refused (then nothing changes)."""
        marks = [(t.acc, t.hwm) for t in self.triggers]
        balance = self.balance
        for t in self.triggers:
            t.acc += value
            crossed = max(t.acc, t.hwm) // t.threshold - t.hwm // t.threshold
            t.hwm = max(t.hwm, t.acc)
            if crossed <= 0:
                continue
            raw = t.points * crossed
            if t.block and raw < 0 and balance + raw < 0:
                for trig, (acc, hwm) in zip(self.triggers, marks, strict=True):
                    trig.acc, trig.hwm = acc, hwm
                return False
            if raw > 0 and self.boosts:
                product = Fraction(raw)
                for multiplier, _ in self.boosts:
                    product *= Fraction(str(multiplier))
                modes = {mode for _, mode in self.boosts}
                if "down" in modes:
                    raw = math.floor(product)
                elif "nearest" in modes:
                    raw = math.floor(product + Fraction(1, 2))
                else:
                    raw = math.ceil(product)
            if raw > 0 and self.cap is not None:
                raw = max(0, min(raw, self.cap - balance))
            if raw < 0:
                raw = max(raw, -balance)
            balance += raw
        self.balance = balance
        return True


operations = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(-6, 9)),
        st.tuples(
            st.just("trigger"),
            st.tuples(st.integers(-15, 15).filter(bool), st.integers(1, 4), st.booleans()),
        ),
        st.tuples(
            st.just("boost"),
            st.tuples(st.sampled_from(MULTIPLIERS), st.sampled_from(["down", "up", "nearest"])),
        ),
    ),
    min_size=1,
    max_size=25,
)


async def ledger_of(
    stack: Stack, system_id: str, *, by_total: bool = False
) -> tuple[int, list[tuple[int, int]]]:
    """(balance, [(awarded, total)]) of the system's only user, in the order applied."""
    sid = uuid.UUID(system_id)
    async with stack.runtime.db.transaction(write=False) as conn:
        balance = await conn.scalar(
            select(points_balances.c.total).where(points_balances.c.system_id == sid)
        )
        rows = await conn.execute(
            select(points_awards.c.awarded, points_awards.c.total)
            .where(points_awards.c.system_id == sid)
            # By balance after the award: parallel requests read their clock before they
            # queue for the user's lock, so `created` may not follow the order applied.
            .order_by(
                points_awards.c.total if by_total else points_awards.c.created,
                points_awards.c.id,
            )
        )
        return int(balance or 0), [(int(a), int(t)) for a, t in rows]


@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, cap=st.one_of(st.none(), st.integers(1, 120)))
async def test_balances_follow_the_reference(
    stack: Stack, ops: list[tuple[str, object]], cap: int | None
) -> None:
    env = await make_environment(stack.runtime, stack.http)
    metric = await env.metric("steps", "Steps")
    created = await env.admin.post("/points", json=[{"name": "XP", "key": "xp", "maxPoints": cap}])
    system = created.json()["created"][0]
    model = Reference(cap)
    for kind, arg in ops:
        if kind == "event":
            assert isinstance(arg, int)
            response = await env.event("steps", "u", arg)
            accepted = model.event(arg)
            assert response.status_code == (201 if accepted else 422), response.json()
        elif kind == "trigger":
            points, threshold, block = arg  # type: ignore[misc]
            body = [
                {
                    "type": "metric",
                    "points": points,
                    "metricId": metric["id"],
                    "metricThreshold": threshold,
                    "blockIfOutOfPoints": block,
                    "status": "active",
                }
            ]
            answer = await env.admin.post(f"/points/{system['id']}/triggers", json=body)
            assert answer.status_code == 201, answer.json()
            model.triggers.append(RefTrigger(points, threshold, block))
        else:
            multiplier, rounding = arg  # type: ignore[misc]
            body = [
                {"name": "b", "start": "2000-01-01", "multiplier": multiplier, "rounding": rounding}
            ]
            answer = await env.admin.post(f"/points/{system['id']}/boosts", json=body)
            assert answer.status_code == 201, answer.json()
            model.boosts.append((multiplier, rounding))
    balance, ledger = await ledger_of(stack, system["id"])
    assert balance == model.balance
    assert balance == sum(awarded for awarded, _ in ledger)
    assert balance >= 0
    if cap is not None:
        assert balance <= cap
    running = 0
    for awarded, total in ledger:
        running += awarded
        assert awarded != 0
        assert total == running
        assert total >= 0
        assert cap is None or total <= cap


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
async def test_64_parallel_events_match_the_same_events_in_sequence(stack: Stack) -> None:
    results = []
    for parallel in (True, False):
        env: TestEnvironment = await make_environment(stack.runtime, stack.http)
        metric = await env.metric("steps", "Steps")
        created = await env.admin.post(
            "/points",
            json=[
                {
                    "name": "XP",
                    "key": "xp",
                    "maxPoints": 150,
                    "triggers": [
                        {
                            "type": "metric",
                            "points": 3,
                            "metricId": metric["id"],
                            "metricThreshold": 2,
                            "status": "active",
                        },
                        {
                            "type": "metric",
                            "points": 1,
                            "metricId": metric["id"],
                            "metricThreshold": 1,
                            "status": "active",
                        },
                    ],
                    "boosts": [
                        {
                            "name": "b",
                            "start": "2000-01-01",
                            "multiplier": 1.5,
                            "rounding": "nearest",
                        }
                    ],
                }
            ],
        )
        system = created.json()["created"][0]
        if parallel:
            responses = await asyncio.gather(*(env.event("steps", "u", 1) for _ in range(64)))
        else:
            responses = [await env.event("steps", "u", 1) for _ in range(64)]
        assert all(r.status_code == 201 for r in responses)
        results.append(await ledger_of(stack, system["id"], by_total=True))
    (balance_p, ledger_p), (balance_s, ledger_s) = results
    assert balance_p == balance_s == 150
    assert ledger_p == ledger_s
