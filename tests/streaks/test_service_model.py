"""The streak service, driven through the HTTP API and the test clock, agrees with the
independent reference model of tests/streaks/test_rules.py on random scenarios: time zones
(DST, ±13/14 h, half and quarter hours), frequencies, week starts, thresholds, AND/OR,
days off, freezes and pauses (created through the Admin API).

The test clock only moves forward, so each scenario is moved forward by whole Gregorian
400-year cycles (146,097 days: the same weekdays and calendar) until it starts after the
clock; the model then works on the moved scenario too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from plaudit.core.schemas import format_timestamp
from tests.api.test_test_clock import move_clock
from tests.conftest import Stack
from tests.streaks.test_rules import M, Scenario, reference, scenarios
from tests.support.api import TestEnvironment, make_environment

CYCLE = dt.timedelta(days=146_097)
HISTORY = 8


def moved(sc: Scenario, after: dt.datetime) -> Scenario:
    shift = dt.timedelta(0)
    while sc.t0 + shift <= after:
        shift += CYCLE
    return replace(
        sc,
        t0=sc.t0 + shift,
        events=tuple((t + shift, metric, value) for t, metric, value in sc.events),
        checks=tuple(t + shift for t in sc.checks),
        now=sc.now + shift,
        pauses=tuple(replace(p, start=p.start + shift, end=p.end + shift) for p in sc.pauses),
    )


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def configure(env: TestEnvironment, sc: Scenario) -> None:
    cfg = sc.config
    for key in ("a", "b"):
        await env.metric(key)
    body: dict[str, object] = {
        "frequency": cfg.frequency,
        "evaluationMode": cfg.mode,
        "metrics": [{"key": c.metric, "threshold": c.threshold // M} for c in cfg.conditions],
        "daysOff": sorted(cfg.days_off),
        "freezes": None
        if cfg.freezes is None
        else {
            "startCount": cfg.freezes.start_count,
            "maxCount": cfg.freezes.max_count,
            "autoEarnInterval": cfg.freezes.auto_earn_interval,
            "autoEarnAmount": cfg.freezes.auto_earn_amount,
        },
    }
    answer = await env.admin.patch("/streaks/settings", json=body)
    assert answer.status_code == 200, answer.json()
    answer = await env.admin.patch("/settings", json={"weekStartsOn": cfg.week_starts_on})
    assert answer.status_code == 200, answer.json()


@settings(
    max_examples=6,
    deadline=None,
    # Shrinking replays scenarios many times, each moving the clock further on; a failure
    # is reported as generated (the scenario is printed) instead.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_service_agrees_with_the_reference_model(
    clock_stack: Stack, data: st.DataObject
) -> None:
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    clock = (await env.admin.get("/test-clock")).json()["now"]
    sc = moved(data.draw(scenarios()), dt.datetime.fromisoformat(clock.replace("Z", "+00:00")))
    await configure(env, sc)
    await move_clock(env, iso(sc.t0))
    created = await env.app.put("/users/u", json={"tz": sc.tz})
    assert created.status_code in (200, 201), created.json()
    if sc.pauses:
        body = [{"userId": "u", "start": str(p.start), "end": str(p.end)} for p in sc.pauses]
        paused = await env.admin.post("/streaks/pauses", json={"pauses": body})
        assert paused.status_code == 201, paused.json()
        assert paused.json()["issues"] == []

    timeline = sorted(
        [(t, 0, metric, value) for t, metric, value in sc.events]
        + [(t, 1, "", 0) for t in sc.checks]
    )
    for when, kind, metric, value in timeline:
        await move_clock(env, iso(when))
        if kind == 0:
            answer = await env.event(metric, "u", value // M)
            assert answer.status_code == 201, answer.json()
    await move_clock(env, iso(sc.now))

    read = await env.app.get("/users/u/streak", params={"historyPeriods": HISTORY})
    assert read.status_code == 200, read.json()
    got = read.json()
    expected = reference(sc, HISTORY)
    covered = (
        (dt.date.fromisoformat(got["periodStart"]), dt.date.fromisoformat(got["periodEnd"]))
        if got["periodStart"]
        else None
    )
    assert (got["length"], got["started"], covered, got["expires"]) == (
        expected.length,
        expected.started.isoformat() if expected.started else None,
        expected.covered,
        expected.expires.isoformat() if expected.expires else None,
    )
    assert got["extended"] == (
        format_timestamp(expected.extended_at) if expected.extended_at else None
    )
    assert got.get("freezes", 0) == expected.freezes
    assert [
        (dt.date.fromisoformat(h["periodStart"]), h["length"], h["usedFreeze"], h["usedPause"])
        for h in got["streakHistory"]
    ] == expected.history
    # A streak that earns a freeze at least as often as it misses a period lives forever,
    # and the sweep must then look at it every midnight: the next scenario moves the clock
    # centuries on, through every one of them. Without freezes it ends at the next one.
    answer = await env.admin.patch("/streaks/settings", json={"freezes": None})
    assert answer.status_code == 200, answer.json()
