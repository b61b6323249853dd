"""Side effects after commit, and concurrent writers, on the real (committed) database."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.session import after_commit, make_session_factory, session_scope
from app.models.user import User

pytestmark = pytest.mark.usefixtures("committed_factory")


def _user() -> User:
    return User(email=f"{secrets.token_hex(6)}@example.com", hashed_password="x")


async def test_callbacks_run_once_the_rows_are_visible_to_others(engine: AsyncEngine) -> None:
    seen: list[int | None] = []
    async with session_scope(make_session_factory(engine)) as session:
        user = _user()
        session.add(user)
        await session.flush()

        async def look_from_another_connection() -> None:
            async with engine.connect() as other:
                seen.append(await other.scalar(select(User.id).where(User.id == user.id)))

        after_commit(session, look_from_another_connection)
        assert seen == []
    assert seen == [user.id]


async def test_callbacks_never_run_when_the_transaction_fails(engine: AsyncEngine) -> None:
    calls: list[str] = []

    async def record() -> None:
        calls.append("ran")

    factory = make_session_factory(engine)
    taken = _user()
    async with session_scope(factory) as session:
        session.add(taken)

    async def failing_request() -> None:
        async with session_scope(factory) as session:
            after_commit(session, record)
            raise RuntimeError("the request failed")

    async def failing_commit() -> None:
        async with session_scope(factory) as session:
            session.add(User(email=taken.email, hashed_password="x"))  # flushed at commit
            after_commit(session, record)

    with pytest.raises(RuntimeError):
        await failing_request()
    with pytest.raises(IntegrityError):
        await failing_commit()
    assert calls == []


async def test_a_session_that_reads_then_writes_survives_a_concurrent_writer(
    engine: AsyncEngine,
) -> None:
    # On SQLite a deferred transaction fails here with "database is locked": its read
    # snapshot is older than the other writer's commit. Sessions begin IMMEDIATE.
    factory: async_sessionmaker[AsyncSession] = make_session_factory(engine)

    async def other_writer() -> None:
        async with session_scope(factory) as other:
            other.add(_user())

    async with session_scope(factory) as session:
        before = await session.scalar(select(func.count()).select_from(User))
        writer = asyncio.create_task(other_writer())
        await asyncio.sleep(0.3)
        session.add(_user())
    await writer
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == (before or 0) + 2
