"""SQLite under concurrent writers: transactions wait for the lock, never fail with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.base import Base
from app.db.session import build_engine, make_session_factory, session_scope
from app.db.sqlite import is_write
from app.models.item import Item
from app.models.user import User


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


async def test_concurrent_read_then_write_transactions_all_commit(
    sqlite_engine: AsyncEngine,
) -> None:
    # Each transaction reads, then writes: with a deferred BEGIN the read snapshot
    # goes stale and the upgrade to a write lock fails at once ("database is locked").
    factory = make_session_factory(sqlite_engine)
    async with session_scope(factory) as session:
        owner = User(email="writer@example.com", hashed_password="x")
        session.add(owner)
    owner_id = owner.id

    async def write(n: int) -> None:
        async with session_scope(factory) as session:
            await session.scalar(select(func.count()).select_from(Item))
            await asyncio.sleep(0)  # let the others read too
            session.add(Item(title=f"item {n}", price=1, owner_id=owner_id))
            await session.flush()
            await session.execute(select(Item.id).where(Item.owner_id == owner_id))

    await asyncio.gather(*(write(n) for n in range(40)))
    async with session_scope(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Item)) == 40


async def test_failed_transaction_leaves_nothing_behind(sqlite_engine: AsyncEngine) -> None:
    factory = make_session_factory(sqlite_engine)

    async def fail_after_a_write() -> None:
        async with session_scope(factory) as session:
            session.add(User(email="gone@example.com", hashed_password="x"))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_after_a_write()
    async with sqlite_engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM users")) == 0


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT 1", False),
        ("  select * from items", False),
        ("PRAGMA table_info(items)", False),
        ("INSERT INTO items VALUES (1)", True),
        ("UPDATE items SET title = 'x'", True),
        ("DELETE FROM items", True),
        ("SAVEPOINT sa_savepoint_1", True),
        ("CREATE TABLE t (id INTEGER)", True),
        ("WITH x AS (SELECT 1) DELETE FROM items", True),
        ("RELEASE SAVEPOINT sa_savepoint_1", False),
        ("ROLLBACK TO SAVEPOINT sa_savepoint_1", False),
    ],
)
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert is_write(statement) is writes
