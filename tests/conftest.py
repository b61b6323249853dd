"""Test fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL.

The schema comes from the Alembic migrations, once per back end. Each test runs in
a transaction that is rolled back; the requests of a test share it through
savepoints, so `get_async_session`'s commit works as in production.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

# Settings for the whole run, before the application reads any.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="itemsvc-tests-"))
os.environ.update(
    {
        "ENVIRONMENT": "development",
        "DATA_DIR": str(_DATA_DIR),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
        # Cheap Argon2 parameters: the tests are about behaviour, not hashing cost.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "PASSWORD_HASH_PARALLELISM": "1",
        "RATE_LIMIT_ENABLED": "false",
    }
)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.pop("SMTP_HOST", None)  # e-mails go to the outbox unless a test starts a server

import httpx  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from app.config import get_settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.session import dispose_engine, get_async_session, get_engine, session_scope  # noqa: E402
from app.main import create_application  # noqa: E402
from tests.factories import PASSWORD  # noqa: E402
from tests.mail import Inbox, LocalController, Outbox  # noqa: E402

SQLITE_URL = f"sqlite+aiosqlite:///{_DATA_DIR / 'test.db'}"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")


def backend_params() -> list[Any]:
    params = [pytest.param(SQLITE_URL, id="sqlite")]
    if POSTGRES_URL:
        params.append(pytest.param(POSTGRES_URL, id="postgresql"))
    return params


async def reset_database(url: str) -> None:
    """An empty database, then the migrations: the schema tests run on is the real one."""
    if make_url(url).get_backend_name() == "sqlite":
        path = make_url(url).database or ""
        await asyncio.to_thread(_remove_sqlite_files, path)
    else:
        async with get_engine().begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await dispose_engine()
    await asyncio.to_thread(migrate.upgrade, url)


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session", params=backend_params())
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The back end under test; the application's own engine points at it."""
    url: str = request.param
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    await dispose_engine()
    await reset_database(url)
    yield url
    await dispose_engine()
    os.environ.pop("DATABASE_URL", None)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncEngine:
    return get_engine()


@pytest.fixture
async def session_factory(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions bound to one connection whose outer transaction is rolled back at the end."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        await transaction.rollback()


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
async def app(session_factory: async_sessionmaker[AsyncSession]) -> Any:
    application = create_application()

    async def override() -> AsyncIterator[AsyncSession]:
        async with session_scope(session_factory) as request_session:
            yield request_session

    application.dependency_overrides[get_async_session] = override
    return application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Change settings for one test through the environment; restored afterwards."""

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def outbox(set_env: Callable[..., None], tmp_path: Path) -> Outbox:
    """E-mails go to `.eml` files in a folder of this test's own."""
    set_env(DATA_DIR=str(tmp_path))
    return Outbox(tmp_path / "outbox")


@pytest.fixture
def smtp_server(set_env: Callable[..., None]) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1; the application sends to it."""
    inbox = Inbox()
    controller = LocalController(inbox)
    controller.start()
    set_env(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port), SMTP_STARTTLS="false")
    yield inbox
    controller.stop()


@pytest.fixture
async def committed_factory(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions whose commits are real, for data another process must see (a worker).

    Nothing is rolled back: users created during the test are deleted afterwards, and
    with them (ON DELETE CASCADE) their items, tokens and jobs.
    """
    async with engine.connect() as connection:
        before = (await connection.execute(text("SELECT coalesce(max(id), 0) FROM users"))).scalar()
    yield async_sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM users WHERE id > :before"), {"before": before})


@pytest.fixture
async def live_client(
    committed_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application that commits to the real database (see committed_factory)."""
    transport = httpx.ASGITransport(app=create_application(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never answers: a silent Redis or database."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.transport.abort()
    server.close()
    await server.wait_closed()
