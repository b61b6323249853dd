"""Black-box: a real server process, started the way a user starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("database_url")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "PORT": str(port)}
    env.pop("SECRET_KEY")  # the development key is generated into DATA_DIR
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start in 30 s")


def test_readme_session(server: str, tmp_path: Path) -> None:
    api = f"{server}/api/v1"
    email = f"ada-{os.getpid()}-{time.monotonic_ns()}@example.com"
    with httpx.Client(timeout=10) as http:
        created = http.post(f"{api}/users", json={"email": email, "password": "Analytical1"})
        assert created.status_code == 201, created.text
        login = http.post(f"{api}/auth/login", data={"username": email, "password": "Analytical1"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        item = http.post(
            f"{api}/items", json={"title": "Oak desk", "price": "129.00"}, headers=headers
        )
        assert item.status_code == 201, item.text
        listed = http.get(f"{api}/items", params={"owner_id": created.json()["id"], "q": "oak"})
        assert [i["price"] for i in listed.json()["items"]] == ["129.00"]
        me = http.get(f"{api}/users/me", headers=headers).json()
        assert me["items"][0]["title"] == "Oak desk"
        assert http.get(f"{server}/docs").status_code == 200
        assert http.get(f"{server}/health/ready").json()["status"] == "ready"
    assert (tmp_path / "secret_key").exists()
