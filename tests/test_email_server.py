"""Black-box: the e-mail flows on a real server process, read from its outbox folder."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.mail import Outbox, token_in

pytestmark = [pytest.mark.usefixtures("database_url"), pytest.mark.slow]
PASSWORD, NEW_PASSWORD = "Analytical1", "Difference-Engine-2"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}
    env.pop("SMTP_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{base}/health"):
            assert process.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start in 30 s"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def next_message(outbox: Outbox, to: str, seen: int) -> EmailMessage:
    """The next e-mail to `to`: it is written after the response, so wait for it."""
    deadline = time.monotonic() + 10
    while len(messages := outbox.to(to)) <= seen:
        assert time.monotonic() < deadline, f"no new e-mail to {to}"
        await asyncio.sleep(0.05)
    return messages[seen]


async def test_email_flows_and_concurrent_logins(server: str, tmp_path: Path) -> None:
    api, outbox = f"{server}/api/v1", Outbox(tmp_path / "outbox")
    email = f"lovelace-{time.monotonic_ns()}@example.com"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        created = await http.post("/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        verification = await next_message(outbox, email, 0)
        verified = await http.post("/auth/verify-email", json={"token": token_in(verification)})
        assert verified.status_code == 200, verified.text

        logins = await asyncio.gather(
            *(
                http.post("/auth/login", json={"email": email, "password": PASSWORD})
                for _ in range(8)
            )
        )
        assert [r.status_code for r in logins] == [200] * 8, logins[-1].text

        asked = await http.post("/auth/password-reset/request", json={"email": email})
        assert asked.status_code == 202
        token = token_in(await next_message(outbox, email, 1))
        body = {"token": token, "new_password": NEW_PASSWORD}
        assert (await http.post("/auth/password-reset", json=body)).status_code == 200
        assert (await http.post("/auth/password-reset", json=body)).status_code == 401
        notice = await next_message(outbox, email, 2)
        assert "password was changed" in notice["Subject"]

        stale = logins[0].json()["access_token"]
        me = await http.get("/users/me", headers={"Authorization": f"Bearer {stale}"})
        assert me.status_code == 401
        fresh = await http.post("/auth/login", data={"username": email, "password": NEW_PASSWORD})
        assert fresh.status_code == 200
