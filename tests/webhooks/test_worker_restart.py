"""A `plaudit worker` killed in the middle of a delivery: the next one sends it again,
with the same webhook-id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from plaudit.core.clock import utcnow
from plaudit.webhooks.outbox import WebhookEvent, emit
from tests.conftest import BACKENDS, running_stack
from tests.support.api import make_environment
from tests.webhooks.conftest import settled, subscribe
from tests.webhooks.receiver import Received, receiver


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PLAUDIT_DATABASE_URL": database_url,
        "PLAUDIT_WEBHOOK_ALLOW_PRIVATE": "true",
        "PLAUDIT_WEBHOOK_TIMEOUT_SECONDS": "1",
        "PLAUDIT_WORKER_POLL_SECONDS": "0.05",
        "PLAUDIT_LOG_LEVEL": "warning",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "plaudit", "worker"], env=env, stdout=out, stderr=out
        )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_killed_worker_redelivers_with_the_same_webhook_id(
    backend: str, tmp_path: Path
) -> None:
    arrived_once = asyncio.Event()

    async def hang_the_first_time(received: Received) -> tuple[int, dict[str, str]]:
        if not arrived_once.is_set():
            arrived_once.set()
            await asyncio.sleep(30)  # the worker is killed while it waits for this answer
        return 200, {}

    async with (
        running_stack(backend, tmp_path, embedded_worker=False, webhook_allow_private=True) as s,
        receiver(hang_the_first_time) as hook,
    ):
        env = await make_environment(s.runtime, s.http)
        created = await subscribe(env, hook.url)
        async with s.runtime.db.transaction() as conn:
            event = WebhookEvent("streak.started", {"user": {"id": "ada"}, "streak": {}})
            await emit(conn, env.scope_id, [event], utcnow(), interest=None)
        log = tmp_path / "worker.log"
        first = start_worker(s.database_url, log)
        try:
            await asyncio.wait_for(arrived_once.wait(), timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        second = start_worker(s.database_url, log)
        try:
            # The first claim's lease (2 x timeout + 2 s) runs out, then it goes again.
            await hook.wait_for(2, within=30)
            [done] = await settled(env, created["id"], 1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
    first_id, second_id = (r.id for r in hook.received)
    assert first_id == second_id == done["eventId"]
    assert done["attempts"] == 1  # the killed attempt was never recorded
