"""A real `plaudit serve` process on a free port, for tests that speak HTTP over a socket
(the official SDKs, schemathesis)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    admin_key: str
    database_url: str
    log_path: Path

    @property
    def app_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/admin/v1"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(database_url: str, log_dir: Path, **settings: str) -> Iterator[LiveServer]:
    """Serve `database_url` until the block ends; PLAUDIT_* overrides come as keywords."""
    port = free_port()
    admin_key = "bootstrap-" + secrets.token_urlsafe(24)
    log_path = log_dir / f"server-{port}.log"
    env = {
        **os.environ,
        "PLAUDIT_DATABASE_URL": database_url,
        "PLAUDIT_HOST": "127.0.0.1",
        "PLAUDIT_PORT": str(port),
        "PLAUDIT_ADMIN_KEY": admin_key,
        "PLAUDIT_ACCESS_LOG": "false",
        "PLAUDIT_LOG_LEVEL": "warning",
        **{f"PLAUDIT_{name.upper()}": value for name, value in settings.items()},
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "plaudit", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", admin_key, database_url, log_path)
    try:
        _wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: LiveServer, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"plaudit serve exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"plaudit serve was not ready within {timeout}s:\n{server.log_tail()}")
