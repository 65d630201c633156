from __future__ import annotations

import httpx

from tests.support.server import LiveServer


def test_live_server_answers(live: LiveServer) -> None:
    response = httpx.get(f"{live.admin_url}/environments", headers={"X-API-KEY": live.admin_key})
    assert response.status_code == 200
    assert response.json()[0]["key"] == "production"
