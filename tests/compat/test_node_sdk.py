"""Node SDK (`@trophyso/node`, pinned in node/package.json): node/scenario.cjs drives the live
server and prints what the SDK returned; these tests assert on it.

The Node SDK sends no Tenant-ID header, so its scenarios run in the environment's own scope
and keep apart through a unique metric key and unique user ids."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trophy import TrophyApi
from trophy.admin.streaks import ResetStreaksRequestUsersItem
from trophy.types import CreatedMetric, CreateMetricRequestItem, StreakSettingsMetric

from tests.compat.sdk import unique
from tests.support.server import LiveServer

pytestmark = pytest.mark.compat

NODE_DIR = Path(__file__).parent / "node"
Scenario = Callable[[str], dict[str, Any]]


@pytest.fixture
def node_binary() -> str:
    """The `node` binary; without it or the SDK, skip locally but fail in CI."""
    node = shutil.which("node")
    if node is None:
        missing = "node is not on PATH"
    elif not (NODE_DIR / "node_modules" / "@trophyso" / "node").is_dir():
        missing = f"{NODE_DIR / 'node_modules'} is missing: run `make node-deps`"
    else:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"Node SDK compat tests cannot run in CI: {missing}")
    pytest.skip(f"Node SDK compat tests skipped: {missing}")


@pytest.fixture
def node_metric(environment_admin: TrophyApi) -> CreatedMetric:
    key = unique("node-lessons")
    [created] = environment_admin.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Node lessons", key=key)]
    ).created
    return created


@pytest.fixture
def scenario(node_binary: str, live: LiveServer, node_metric: CreatedMetric) -> Scenario:
    run_id = unique("node")

    def run(name: str) -> dict[str, Any]:
        env = {
            **os.environ,
            "PLAUDIT_APP_URL": live.app_url,
            "PLAUDIT_ADMIN_URL": live.admin_url,
            "PLAUDIT_API_KEY": live.admin_key,
            "PLAUDIT_METRIC": node_metric.key,
            "PLAUDIT_RUN": run_id,
        }
        done = subprocess.run(
            [node_binary, "scenario.cjs", name],
            cwd=NODE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (
            f"node scenario.cjs {name} failed:\n{done.stderr}\nserver log:\n{live.log_tail()}"
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    return run


def test_node_events_add_up_replay_and_are_summarized(
    scenario: Scenario, node_metric: CreatedMetric
) -> None:
    result = scenario("events")
    first, keyed, replay = result["first"], result["keyed"], result["replay"]
    assert (first["total"], keyed["total"]) == (0.1, 0.3)
    assert first["metricId"] == node_metric.id
    assert first["currentStreak"]["length"] == 0
    assert "idempotentReplayed" not in first
    assert (keyed["idempotentReplayed"], replay["idempotentReplayed"]) == (False, True)
    assert replay["eventId"] == keyed["eventId"] != first["eventId"]
    assert replay["total"] == 0.3
    progress = {"id": node_metric.id, "key": node_metric.key, "current": 0.3, "status": "active"}
    # Other tests' metrics share the environment's scope: this user has nothing on them.
    listed = {m["key"]: m for m in result["allMetrics"]}
    assert listed[node_metric.key] == {**listed[node_metric.key], **progress}
    assert {m["current"] for key, m in listed.items() if key != node_metric.key} <= {0}
    assert result["singleMetric"] == listed[node_metric.key]
    [today] = result["summary"]
    assert today["total"] == today["change"] == 0.3
    assert today["date"] == dt.datetime.now(dt.UTC).date().isoformat()


def test_node_users_are_created_upserted_updated_and_have_preferences(
    scenario: Scenario,
) -> None:
    result = scenario("users")
    created = result["created"]
    assert (created["name"], created["email"], created["tz"]) == (
        "Ada",
        "ada@example.com",
        "Europe/London",
    )
    assert (created["subscribeToEmails"], created["control"], created["attributes"]) == (
        True,
        False,
        {},
    )
    assert created["created"].endswith("Z")
    assert result["fetched"] == created
    identified = result["identified"]
    assert (identified["name"], identified["email"]) == ("Ada L.", "ada@example.com")
    assert identified["created"] == created["created"]
    updated = result["updated"]
    assert (updated["name"], updated["subscribeToEmails"]) == ("Ada L.", False)
    assert "email" not in updated  # unsubscribing drops the address (null, parsed as absent)
    assert result["upserted"]["name"] == "New"
    assert result["preferencesBefore"] == {"notifications": {}}
    assert result["preferences"] == {
        "notifications": {"recap": ["email"], "streakReminder": ["push", "email"]}
    }


# case in scenario.cjs -> (SDK error class, status, start of the server's message)
EXPECTED_ERRORS = {
    "badKey": ("UnauthorizedError", 401, "Invalid API key"),
    "existingUser": ("UnprocessableEntityError", 422, "User '"),
    # The SDK declares no 404 for users.get or metrics.event: they raise the base class.
    "unknownUserGet": ("TrophyApiError", 404, "User '"),
    "unknownUserUpdate": ("NotFoundError", 404, "User '"),
    "unknownUserMetrics": ("NotFoundError", 404, "User '"),
    "unknownMetric": ("TrophyApiError", 404, "Metric '"),
    "undeclaredAttribute": ("UnprocessableEntityError", 422, "Invalid attribute keys: colour"),
    "invalidTimeZone": ("UnprocessableEntityError", 422, "tz 'Mars/Base' is not an IANA"),
    "nameTooLong": ("BadRequestError", 400, "Invalid request: name"),
}


def test_node_errors_map_to_the_sdks_error_classes(scenario: Scenario) -> None:
    outcomes = scenario("errors")
    assert {case: (o.get("type"), o.get("statusCode")) for case, o in outcomes.items()} == {
        case: (error_type, status) for case, (error_type, status, _) in EXPECTED_ERRORS.items()
    }
    for case, (_, _, prefix) in EXPECTED_ERRORS.items():
        assert outcomes[case]["error"].startswith(prefix), (case, outcomes[case])


def test_node_streak_rankings_freezes_and_restore(
    scenario: Scenario, environment_admin: TrophyApi, node_metric: CreatedMetric
) -> None:
    """Streak settings are per scope and the Node SDK has no Tenant-ID: this test makes its
    own metric the environment's streak metric, so only its users have streaks there."""
    environment_admin.admin.streaks.settings.update(
        metrics=[StreakSettingsMetric(key=node_metric.key, threshold=1)]
    )
    started = scenario("streakEvents")
    a, b, c = started["ids"]
    assert started["lengths"] == [1, 1, 1]
    reset = environment_admin.admin.streaks.reset(users=[ResetStreaksRequestUsersItem(id=c)])
    assert reset.reset_users == [c]

    result = scenario("streakRankings")
    ann = {"userId": a, "name": "Ann", "streakLength": 1}
    bob = {"userId": b, "streakLength": 1}  # no name: null, which the SDK drops
    cid = {"userId": c, "name": "Cid", "streakLength": 1}
    assert result["active"] == [ann, bob]  # ties by user id
    assert result["longest"] == [ann, bob, cid]  # the reset streak still counts
    assert result["top"] == [ann]
    assert result["freezes"] == {
        "issues": [
            {
                "userId": a,
                "level": "error",
                "reason": "Streak freezes are not enabled",
                "severity": "error",
                "message": "Streak freezes are not enabled",
            },
            {
                "userId": f"{a.removesuffix('-streak-a')}-ghost",
                "level": "error",
                "reason": "User does not exist",
                "severity": "error",
                "message": "User does not exist",
            },
        ]
    }
    assert result["restored"]["restoredUsers"] == [c]
    assert [(i["userId"], i["level"], i["reason"]) for i in result["restored"]["issues"]] == [
        (a, "warning", "No streak to restore")
    ]
    assert result["afterRestore"] == [ann, bob, cid]
    bad = result["badLimit"]
    assert (bad["type"], bad["statusCode"]) == ("UnprocessableEntityError", 422)
    assert "limit" in bad["error"]
