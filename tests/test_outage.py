"""PostgreSQL going away under traffic: quick 503s, never a 500 or a hang, and recovery by itself.

A real server process talks to PostgreSQL through a TCP proxy this test controls.
The proxy first refuses (database host down: connections reset, new ones
refused), then freezes (packets silently dropped: the slow failure), each for a
few seconds while clients keep sending reads and writes over keep-alive
connections. Short timeouts keep the test fast; the bound below is their sum.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.server import running_server
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

ITEMS = "/api/v1/items"
TIMEOUT = 1  # seconds: DB_POOL_TIMEOUT, DB_CONNECT_TIMEOUT, DB_COMMAND_TIMEOUT
# Worst case: wait for the pool, a query or pre-ping timing out on a frozen connection
# (plus asyncpg's cancel request), then a fresh connection timing out; slack for CI.
BOUND = 4 * TIMEOUT + 2.5
CUT_SECONDS = 3.0


class Load:
    """Clients reading and writing in a loop; every answer is recorded with its duration."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.results: list[tuple[str, int | str, float]] = []
        self._running = True
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, workers: int = 4) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(n)) for n in range(workers)]

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)

    async def _work(self, n: int) -> None:
        while self._running:
            if n % 2:
                await self._timed("write", self.client.post, ITEMS, json={"title": "x", "price": 1})
            else:
                await self._timed("read", self.client.get, ITEMS)

    async def _timed(
        self, kind: str, call: Callable[..., Awaitable[httpx.Response]], *args: object, **kw: object
    ) -> None:
        start = time.perf_counter()
        try:
            response = await call(*args, headers=self.headers, **kw)
            outcome: int | str = response.status_code
            if response.status_code == 503:
                assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__  # a hang (timeout) or a dropped connection
        self.results.append((kind, outcome, time.perf_counter() - start))


async def sign_up(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"outage-{secrets.token_hex(4)}@example.com"
    password = "Outage-Test-1"
    created = await client.post("/api/v1/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def run_cut(
    client: httpx.AsyncClient, headers: dict[str, str], cut: Callable[[], Awaitable[None]]
) -> list[tuple[str, int | str, float]]:
    load = Load(client, headers)
    load.start()
    await asyncio.sleep(0.5)
    await cut()
    await asyncio.sleep(CUT_SECONDS)
    await load.stop()
    return load.results


@pytest.mark.parametrize("mode", ["refuse", "freeze"])
async def test_database_cut_answers_503_quickly_and_recovers(
    database_url: str, tmp_path: Path, mode: str
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("an outage of PostgreSQL")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    env = {
        "DATABASE_URL": proxied,
        "DB_POOL_SIZE": "4",
        "DB_MAX_OVERFLOW": "2",
        **{f"DB_{name}_TIMEOUT": str(TIMEOUT) for name in ("POOL", "CONNECT", "COMMAND")},
    }
    try:
        async with (
            running_server(tmp_path / "server.log", env) as server,
            httpx.AsyncClient(base_url=server.url, timeout=20) as client,
        ):
            headers = await sign_up(client)
            cut = proxy.refuse if mode == "refuse" else proxy.freeze
            results = await run_cut(client, headers, cut)
            await proxy.restore()
            first = await client.get(ITEMS, headers=headers)
            after = await client.post(ITEMS, json={"title": "back", "price": 2}, headers=headers)
            log = server.output()
    finally:
        await proxy.close()

    outcomes = {outcome for _, outcome, _ in results}
    assert outcomes <= {200, 201, 503}, outcomes  # no 500, no timeout, no dropped connection
    assert 503 in outcomes, "the cut was never noticed"
    slowest = max(seconds for _, _, seconds in results)
    assert slowest < BOUND, f"a request took {slowest:.1f}s"
    assert first.status_code == 200, first.text  # the first request after the database returns
    assert after.status_code == 201, after.text
    assert not re.search(r" 500 \d", log), "a request was answered 500"
