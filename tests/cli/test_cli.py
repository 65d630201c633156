"""`plaudit` commands: refuse unusable settings, print a first admin key once, make keys."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port


def plaudit(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plaudit", *args],
        env={**os.environ, "PLAUDIT_LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("PLAUDIT_DATABASE_URL", "mysql://root@localhost/x", "unsupported database URL"),
        ("PLAUDIT_PORT", "70000", "less than or equal to 65535"),
        ("PLAUDIT_RATE_LIMIT_TIER1", "lots", "invalid rate limit"),
        ("PLAUDIT_ADMIN_KEY", "short", "at least 24 characters"),
        ("PLAUDIT_REDIS_URL", "http://nope", "unsupported Redis URL"),
    ],
)
def test_unusable_settings_stop_the_server_with_a_clear_message(
    variable: str, value: str, fragment: str
) -> None:
    result = plaudit("serve", env={variable: value})
    assert result.returncode == 2
    assert "configuration is not usable" in result.stderr
    assert variable in result.stderr
    assert fragment in result.stderr


def test_migrate_and_keys_create(tmp_path: Path) -> None:
    env = {"PLAUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    migrated = plaudit("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Database is at revision" in migrated.stdout
    created = plaudit("keys", "create", "--name", "ci", env=env)
    assert created.returncode == 0, created.stderr
    prefix, _, body = created.stdout.strip().partition(".")
    assert len(prefix) == 8
    assert len(body) >= 40


def _serve_once(env: dict[str, str], log: Path) -> str:
    """Start `plaudit serve`, wait until it is ready, stop it; its printed output."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "plaudit", "serve", "--port", str(port)],
            env={**os.environ, "PLAUDIT_LOG_LEVEL": "warning", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"server did not start:\n{log.read_text()}")
        output = log.read_text()
        key = next(
            (
                line.strip()
                for line in output.splitlines()
                if "." in line.strip() and " " not in line.strip()
            ),
            None,
        )
        if key:
            response = httpx.get(
                f"http://127.0.0.1:{port}/admin/v1/environments", headers={"X-API-KEY": key}
            )
            assert response.status_code == 200
        return output
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_prints_a_first_admin_key_once(tmp_path: Path) -> None:
    env = {"PLAUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    first = _serve_once(env, tmp_path / "first.log")
    assert "A first admin API key was created" in first
    second = _serve_once(env, tmp_path / "second.log")
    assert "A first admin API key was created" not in second
    assert "Application API: http://127.0.0.1:" in second
