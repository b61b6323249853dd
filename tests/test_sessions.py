"""How requests use the database: read-only sessions, pooled-connection checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings, get_settings
from app.core.security import create_access_token
from app.db.readonly import ReadOnlySessionError
from app.db.session import build_engine, get_read_session_factory, get_session_factory
from app.main import create_application
from app.models.item import Item
from app.models.user import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("database_url")


async def test_read_only_session_refuses_writes(engine: AsyncEngine) -> None:
    async with get_read_session_factory()() as session:
        session.add(User(email="ro@example.com", hashed_password="x"))
        with pytest.raises(ReadOnlySessionError):
            await session.flush()
    async with get_read_session_factory()() as session:
        with pytest.raises(ReadOnlySessionError):
            await session.execute(update(User).values(full_name="x"))
    async with get_read_session_factory()() as session:
        assert await session.scalar(select(User.id).where(User.email == "ro@example.com")) is None


@pytest.fixture
async def real_client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The application with its own session dependency (nothing overridden); commits are real."""
    transport = httpx.ASGITransport(app=create_application(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    async with get_session_factory()() as session:  # what the test committed goes again
        await session.execute(delete(Item).where(Item.title.startswith("session test")))
        await session.execute(delete(User).where(User.email == "sessions@example.com"))
        await session.commit()


async def test_requests_read_and_write_through_their_own_sessions(
    real_client: httpx.AsyncClient,
) -> None:
    async with get_session_factory()() as session:
        user = User(email="sessions@example.com", hashed_password=PASSWORD)
        session.add(user)
        await session.commit()
    headers = {"Authorization": f"Bearer {create_access_token(user.id, extra_claims={'ver': 0})}"}

    created = await real_client.post(
        "/api/v1/items", json={"title": "session test", "price": "2.50"}, headers=headers
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    patched = await real_client.patch(
        f"/api/v1/items/{item_id}", json={"price": "3"}, headers=headers
    )
    assert patched.json()["price"] == "3.00"

    read = await real_client.get(f"/api/v1/items/{item_id}")
    assert (read.status_code, read.json()["price"]) == (200, "3.00")
    me = await real_client.get("/api/v1/users/me", headers=headers)
    assert [item["id"] for item in me.json()["items"]] == [item_id]
    listed = await real_client.get("/api/v1/items", params={"owner_id": user.id})
    assert (listed.json()["total"], listed.json()["items"][0]["price"]) == (1, "3.00")
    async with get_session_factory()() as session:
        assert await session.scalar(select(Item.price).where(Item.id == item_id)) == Decimal("3.00")


async def test_read_sessions_run_without_a_transaction() -> None:
    bind = get_read_session_factory().kw["bind"]
    assert bind.get_execution_options()["isolation_level"] == "AUTOCOMMIT"


@pytest.fixture
async def always_pinging(database_url: str) -> AsyncIterator[AsyncEngine]:
    settings = Settings(database_url=database_url, db_pool_ping_idle=0, db_pool_size=1)
    engine = build_engine(settings)
    yield engine
    await engine.dispose()


async def test_dead_pooled_connection_is_replaced_before_use(
    always_pinging: AsyncEngine, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a server-side disconnect needs PostgreSQL")
    async with always_pinging.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    async with get_session_factory()() as session:  # another connection ends that one
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    async with always_pinging.connect() as connection:
        assert await connection.scalar(text("SELECT pg_backend_pid()")) != pid


def test_pool_defaults_do_not_churn_connections() -> None:
    # Overflow connections are opened and closed with every burst (several ms each on
    # asyncpg); the default pool is fixed-size instead.
    settings = get_settings()
    assert settings.db_max_overflow == 0
    assert settings.db_pool_size >= 20
    # Admitted requests never wait for a connection: the cap is the pool's size.
    assert settings.session_limit == settings.db_pool_size
    assert Settings(db_pool_size=5, db_max_overflow=2).session_limit == 7
    assert Settings(db_session_limit=0).session_limit == 0
