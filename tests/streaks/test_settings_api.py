"""`/admin/v1/streaks/settings`: defaults, PATCH semantics and validation (SDK 1.27 shape)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import TestEnvironment

DEFAULTS = {
    "frequency": "daily",
    "evaluationMode": "AND",
    "customizationEnabled": False,
    "daysOff": [],
    "metrics": [],
    "freezes": None,
}


async def patch(env: TestEnvironment, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await env.admin.patch("/streaks/settings", json=body)
    assert response.status_code == status, response.json()
    return response.json()  # type: ignore[no-any-return]


async def current(env: TestEnvironment) -> dict[str, Any]:
    response = await env.admin.get("/streaks/settings")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_defaults_then_a_full_update_round_trips(env: TestEnvironment) -> None:
    assert await current(env) == DEFAULTS
    await env.metric("words")
    await env.metric("lessons")
    body = {
        "frequency": "daily",
        "evaluationMode": "OR",
        "customizationEnabled": True,
        "daysOff": [6, 0],
        "metrics": [{"key": "words", "threshold": 500}, {"key": "lessons", "threshold": 1}],
        "freezes": {"startCount": 1, "maxCount": 3, "autoEarnInterval": 7, "autoEarnAmount": 1},
    }
    expected = {**body, "daysOff": [0, 6]}
    assert await patch(env, body) == expected
    assert await current(env) == expected


async def test_omitted_keys_stay_and_metrics_are_replaced_whole(env: TestEnvironment) -> None:
    await env.metric("words")
    await env.metric("lessons")
    await patch(env, {"metrics": [{"key": "words", "threshold": 5}], "evaluationMode": "OR"})
    updated = await patch(env, {"metrics": [{"key": "lessons", "threshold": 2}]})
    assert updated["metrics"] == [{"key": "lessons", "threshold": 2}]
    assert updated["evaluationMode"] == "OR"


async def test_freezes_null_disables_and_auto_earn_comes_as_a_pair(env: TestEnvironment) -> None:
    on = await patch(env, {"freezes": {"startCount": 2, "maxCount": 5}})
    assert on["freezes"] == {
        "startCount": 2,
        "maxCount": 5,
        "autoEarnInterval": None,
        "autoEarnAmount": None,
    }
    half = await patch(
        env, {"freezes": {"startCount": 1, "maxCount": 2, "autoEarnInterval": 7}}, 422
    )
    assert "pair" in half["error"]
    low = await patch(env, {"freezes": {"startCount": 3, "maxCount": 2}}, 422)
    assert "maxCount" in low["error"]
    assert (await current(env))["freezes"]["startCount"] == 2  # nothing half-written
    assert (await patch(env, {"freezes": None}))["freezes"] is None


async def test_days_off_belong_to_daily_streaks(env: TestEnvironment) -> None:
    await patch(env, {"daysOff": [0, 6]})
    weekly = await patch(env, {"frequency": "weekly"})
    assert weekly["daysOff"] == []  # switching away from daily clears them
    refused = await patch(env, {"daysOff": [1]}, 422)
    assert "daily" in refused["error"]
    both = await patch(env, {"frequency": "daily", "daysOff": [1, 2]})
    assert both["daysOff"] == [1, 2]
    assert "more than once" in (await patch(env, {"daysOff": [1, 1]}, 422))["error"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"key": "nope", "threshold": 1}]}, "nope"),
        ({"metrics": [{"key": "words", "threshold": 0}]}, "threshold"),
        ({"metrics": [{"key": "words", "threshold": 10_001}]}, "threshold"),
        ({"metrics": [{"key": "words", "threshold": 1.5}]}, "threshold"),
        (
            {"metrics": [{"key": "words", "threshold": 1}, {"key": "words", "threshold": 2}]},
            "more than once",
        ),
        ({"frequency": "hourly"}, "frequency"),
        ({"frequency": None}, "frequency"),
        ({"evaluationMode": "ALL"}, "evaluationMode"),
        ({"daysOff": [7]}, "daysOff"),
        ({"daysOff": [0, 1, 2, 3, 4, 5, 6]}, "daysOff"),
        ({"customizationEnabled": "yes"}, "customizationEnabled"),
        ({"freezes": {"startCount": 0, "maxCount": 101}}, "maxCount"),
        ({"freezes": {"startCount": 1, "maxCount": 2, "autoEarnAmount": 11}}, "autoEarnAmount"),
    ],
)
async def test_invalid_updates_answer_422_and_change_nothing(
    env: TestEnvironment, body: dict[str, Any], words: str
) -> None:
    await env.metric("words")
    before = await patch(env, {"metrics": [{"key": "words", "threshold": 3}]})
    answer = await patch(env, body, 422)
    assert words in answer["error"], answer
    assert await current(env) == before


async def test_a_metric_in_the_streak_settings_cannot_be_deleted(env: TestEnvironment) -> None:
    words = await env.metric("words")
    await patch(env, {"metrics": [{"key": "words", "threshold": 5}]})
    deleted = await env.admin.delete("/metrics", params={"ids": words["id"]})
    assert deleted.status_code == 200, deleted.json()
    assert deleted.json()["deleted"] == []
    assert "streak settings" in deleted.json()["issues"][0]["message"]


async def test_customization_gates_streak_preferences(env: TestEnvironment) -> None:
    await env.metric("words")
    await env.event("words", "u1")
    body = {"streak": {"evaluationMode": "OR"}}
    assert (await env.app.patch("/users/u1/preferences", json=body)).status_code == 403
    await patch(env, {"customizationEnabled": True})
    allowed = await env.app.patch("/users/u1/preferences", json=body)
    assert allowed.status_code == 200, allowed.json()
