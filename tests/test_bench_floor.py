"""The floor apps of `make bench` (`bench/floor.py`) do the service's work for `GET /items/{id}`.

Their ratios to the reference are read as the best the stack allows the service,
so they must answer what the service answers, byte for byte, and 404 where it
does. They read with asyncpg: PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench import floor
from tests.factories import make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")


@pytest.fixture
async def floor_clients(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[httpx.AsyncClient]]:
    if make_url(database_url).get_driver_name() != "asyncpg":
        pytest.skip("the floor apps read with asyncpg")
    dsn = make_url(database_url).set(drivername="postgresql")
    monkeypatch.setenv("BENCH_REF_DSN", dsn.render_as_string(hide_password=False))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(floor, "POOL_SIZE", 2)
    # The test process keeps its collector as it is; freezing is the served process's.
    monkeypatch.setattr(floor, "settle_after_startup", lambda: None)
    async with (
        LifespanManager(floor.pool_app) as pool_app,
        LifespanManager(floor.session_app) as session_app,
    ):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://floor")
            for app in (pool_app.app, session_app.app)
        ]
        yield clients
        for client in clients:
            await client.aclose()


async def test_floor_apps_answer_as_the_service(
    floor_clients: list[httpx.AsyncClient],
    committed_factory: async_sessionmaker[AsyncSession],
    live_client: httpx.AsyncClient,
) -> None:
    async with committed_factory() as session:
        owner = await make_user(session)
        item = await make_item(
            session, owner, description="made for the floor", price=Decimal("12.50")
        )
        await session.commit()
    path = f"/api/v1/items/{item.id}"
    expected = await live_client.get(path)
    assert expected.status_code == 200
    assert expected.json()["price"] == "12.50"
    missing = f"/api/v1/items/{item.id + 1_000_000}"
    for client in floor_clients:
        answer = await client.get(path)
        assert (answer.status_code, answer.content) == (200, expected.content)
        assert (await client.get(missing)).status_code == 404


async def test_floor_apps_answer_health(floor_clients: list[httpx.AsyncClient]) -> None:
    """The harness starts measuring once /health answers."""
    answers: list[Any] = [(await client.get("/health")).json() for client in floor_clients]
    assert answers == [{"status": "healthy"}] * 2
