"""Demo data: bulk loading (COPY on PostgreSQL) and `python -m app seed`."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.security import verify_password
from app.db import bulk, migrate
from app.db.session import build_engine, make_session_factory
from app.models.item import Item
from app.models.user import User
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("database_url")


async def test_load_rows_inserts_in_the_session_transaction(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH_ROWS", 7)  # several batches
    owner = await make_user(session)
    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = ((f"bulk {n}", None, Decimal("1.50"), owner.id, stamp, stamp) for n in range(20))
    columns = ("title", "description", "price", "owner_id", "created_at", "updated_at")

    assert await bulk.load_rows(session, Item, columns, rows) == 20

    loaded = (await session.execute(select(Item).where(Item.owner_id == owner.id))).scalars().all()
    assert sorted(item.title for item in loaded) == sorted(f"bulk {n}" for n in range(20))
    assert {(item.price, item.created_at) for item in loaded} == {(Decimal("1.50"), stamp)}


@pytest.mark.slow
async def test_seed_command_creates_users_who_can_log_in(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    command = ["-m", "app", "seed", "--users", "3", "--items", "10", "--password", "Seeded-Pass-1"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    assert process.returncode == 0
    assert b"Seeded 3 users and 10 items" in output

    engine = build_engine(Settings(database_url=url))
    try:
        async with make_session_factory(engine)() as session:
            users = (await session.scalars(select(User).order_by(User.id))).all()
            owners = select(Item.owner_id, func.count()).group_by(Item.owner_id)
            per_owner = dict((await session.execute(owners)).all())
    finally:
        await engine.dispose()
    assert [user.email for user in users] == [f"demo{n}@example.com" for n in (1, 2, 3)]
    assert verify_password("Seeded-Pass-1", users[0].hashed_password)
    assert sorted(per_owner.values()) == [3, 3, 4]
