"""Black-box: a real server process, started the way a user starts it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.server import running_server

pytestmark = pytest.mark.usefixtures("database_url")


async def test_readme_session(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}
    email = f"ada-{os.getpid()}-{time.monotonic_ns()}@example.com"
    # Without SECRET_KEY, the development key is generated into DATA_DIR.
    async with (
        running_server(tmp_path / "server.log", env, unset=("SECRET_KEY",)) as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        api = f"{server.url}/api/v1"
        created = await http.post(f"{api}/users", json={"email": email, "password": "Analytical1"})
        assert created.status_code == 201, created.text
        login = await http.post(
            f"{api}/auth/login", data={"username": email, "password": "Analytical1"}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        item = await http.post(
            f"{api}/items", json={"title": "Oak desk", "price": "129.00"}, headers=headers
        )
        assert item.status_code == 201, item.text
        listed = await http.get(
            f"{api}/items", params={"owner_id": created.json()["id"], "q": "oak"}
        )
        assert [i["price"] for i in listed.json()["items"]] == ["129.00"]
        me = (await http.get(f"{api}/users/me", headers=headers)).json()
        assert me["items"][0]["title"] == "Oak desk"
        assert (await http.get(f"{server.url}/docs")).status_code == 200
        assert (await http.get(f"{server.url}/health/ready")).json()["status"] == "ready"
    assert (tmp_path / "secret_key").exists()
