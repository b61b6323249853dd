"""`GET /health/ready`: every configured dependency checked, the failing ones named in a 503."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from app.api.health import CHECK_TIMEOUT
from app.config import get_settings
from app.db import session as db_session
from app.db.session import build_engine
from tests.server import free_port

pytestmark = pytest.mark.usefixtures("database_url")
REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings through the environment, as an operator would."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


async def ready(client: httpx.AsyncClient) -> httpx.Response:
    get_settings.cache_clear()
    return await client.get("/health/ready")


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await ready(client)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_database_down_is_named(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    down = build_engine(get_settings(), url=refused)
    monkeypatch.setattr(db_session, "_engine", down)
    try:
        response = await ready(client)
    finally:
        await down.dispose()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"]["failed"] == ["database"]
    assert "database" in error["message"]


async def test_unreachable_redis_is_named(
    client: httpx.AsyncClient, configure: pytest.MonkeyPatch
) -> None:
    configure.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    configure.setenv("CELERY_BROKER_URL", "sqla+sqlite:///broker.sqlite")
    response = await ready(client)
    assert response.status_code == 503
    details = response.json()["error"]["details"]
    assert details["failed"] == ["redis"]
    assert details["checks"] == {"database": "ok", "redis": "unavailable"}


async def test_unreachable_redis_broker_is_named(
    client: httpx.AsyncClient, configure: pytest.MonkeyPatch
) -> None:
    configure.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/1")
    response = await ready(client)
    assert response.status_code == 503
    assert response.json()["error"]["details"]["failed"] == ["broker"]
    assert "broker" in response.json()["error"]["message"]


async def test_redis_is_the_broker_when_no_broker_is_named(
    client: httpx.AsyncClient, configure: pytest.MonkeyPatch
) -> None:
    configure.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    response = await ready(client)
    assert response.json()["error"]["details"]["failed"] == ["redis", "broker"]


async def test_silent_redis_fails_the_check_in_bounded_time(
    client: httpx.AsyncClient, configure: pytest.MonkeyPatch, silent_port: int
) -> None:
    configure.setenv("REDIS_URL", f"redis://127.0.0.1:{silent_port}/0")
    start = time.perf_counter()
    response = await ready(client)
    took = time.perf_counter() - start
    assert response.status_code == 503
    assert response.json()["error"]["details"]["failed"] == ["redis", "broker"]
    assert took < CHECK_TIMEOUT + 1.5  # checks run concurrently, each bounded


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
async def test_ready_with_redis(client: httpx.AsyncClient, configure: pytest.MonkeyPatch) -> None:
    assert REDIS_URL
    configure.setenv("REDIS_URL", REDIS_URL)
    response = await ready(client)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}
