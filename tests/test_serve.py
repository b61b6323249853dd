"""`python -m app serve` as users run it: several workers, shared limits, graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ratelimit_helpers import CHEAP_ROUTE
from tests.server import read, running_server

pytestmark = pytest.mark.slow
REDIS_URL = os.environ.get("TEST_REDIS_URL")


def requests_counted(metrics_text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("route") == route
    )


async def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    sent = 0
    async with running_server(tmp_path / "server.log", env, workers=2) as server:
        # New connections each time, so that both workers take a share of the requests.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, limits=fresh) as client:
            for _ in range(10):  # until both workers have served some
                answers = await asyncio.gather(*(client.get(CHEAP_ROUTE) for _ in range(20)))
                assert {answer.status_code for answer in answers} == {422}
                sent += len(answers)
                if len(counter_writers(folder)) == 2:
                    break
            scrapes = [(await client.get("/metrics")).text for _ in range(4)]
    assert len(counter_writers(folder)) == 2, "expected both workers to serve requests"
    for text in scrapes:  # whichever worker answered the scrape
        assert requests_counted(text, "/api/v1/items/{item_id}") == sent


def counter_writers(folder: Path) -> set[str]:
    """The processes that have counted requests: one counter file per process id."""
    return {path.name.split("_")[-1] for path in folder.glob("counter_*.db")}


async def test_shutdown_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    async with running_server(tmp_path / "server.log", workers=2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        body = b'{"title": "slow", "price": 1}'
        writer.write(
            b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        await writer.drain()
        await asyncio.sleep(0.5)  # the request is in flight, waiting for its body
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert server.process.returncode is None  # still waiting for our request
        writer.write(body[10:])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 401"), status_line
        assert await asyncio.wait_for(server.process.wait(), 20) == 0
    assert "Shutting down" in server.output()


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
async def test_two_processes_share_one_redis_limit(tmp_path: Path) -> None:
    assert REDIS_URL
    env = {
        "REDIS_URL": REDIS_URL,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_REQUESTS": "5",
        "RATE_LIMIT_KEY_PREFIX": f"serve-{secrets.token_hex(6)}",
    }
    async with (
        running_server(tmp_path / "one.log", env) as one,
        running_server(tmp_path / "two.log", env) as two,
        httpx.AsyncClient() as client,
    ):
        answers = [
            (await client.get(f"{(one, two)[n % 2].url}{CHEAP_ROUTE}")).status_code
            for n in range(8)
        ]
    assert answers == [422] * 5 + [429] * 3


@pytest.mark.parametrize(("setting", "uvloop_loaded"), [(None, False), ("uvloop", True)])
async def test_event_loop_setting(setting: str | None, uvloop_loaded: bool, tmp_path: Path) -> None:
    """asyncio unless EVENT_LOOP says uvloop (docs/performance.md: uvloop's rare tails)."""
    env, unset = ({"EVENT_LOOP": setting}, ()) if setting else ({}, ("EVENT_LOOP",))
    async with running_server(tmp_path / "server.log", env, unset=unset) as server:
        maps = await read(Path(f"/proc/{server.process.pid}/maps"))
    assert ("uvloop" in maps) is uvloop_loaded
