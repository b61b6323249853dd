"""The migrations build exactly the schema the models describe, and can be reversed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import app.models  # noqa: F401  (every table in the metadata)
from app.config import get_settings
from app.db.base import Base
from app.db.migrate import alembic_config
from app.db.session import build_engine


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == [], f"autogenerate would change the schema: {diff}"


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cycle.db'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert _tables(url) == {"alembic_version"}
    command.upgrade(config, "head")
    assert {"users", "items", "refresh_tokens"} <= _tables(url)


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = build_engine(get_settings(), url)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return set(names)

    return asyncio.run(read())


@pytest.mark.usefixtures("database_url")
async def test_cascade_is_declared_in_the_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        keys = await connection.run_sync(lambda c: inspect(c).get_foreign_keys("items"))
    assert keys[0]["referred_table"] == "users"
    assert keys[0]["options"].get("ondelete") == "CASCADE"
