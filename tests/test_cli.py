"""The command line, run as a user runs it: `python -m app ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.security import verify_password
from app.models.item import Item
from app.models.user import User

pytestmark = pytest.mark.usefixtures("database_url")


def run_cli(
    *args: str, database_url: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def cleanup(engine: AsyncEngine) -> AsyncIterator[None]:
    """The CLI commits for real: remove what it created."""
    yield
    async with engine.begin() as connection:
        demo = select(User.id).where(
            User.email.like("demo%@example.com") | User.email.like("cli-%")
        )
        await connection.execute(delete(Item).where(Item.owner_id.in_(demo)))
        await connection.execute(delete(User).where(User.id.in_(demo)))


@pytest.mark.usefixtures("cleanup")
async def test_create_superuser_then_promote(database_url: str, engine: AsyncEngine) -> None:
    result = run_cli(
        "create-superuser",
        "--email",
        "CLI-Admin@example.com",
        "--password",
        "Admin12345",
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    assert "cli-admin@example.com" in result.stdout
    again = run_cli(
        "create-superuser",
        "--email",
        "cli-admin@example.com",
        "--password",
        "Other12345",
        database_url=database_url,
    )
    assert again.returncode == 0, again.stderr
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(User.is_superuser, User.is_verified, User.hashed_password).where(
                    User.email == "cli-admin@example.com"
                )
            )
        ).one()
    assert row.is_superuser
    assert row.is_verified
    assert verify_password("Other12345", row.hashed_password)


def test_create_superuser_enforces_password_rules(database_url: str) -> None:
    result = run_cli(
        "create-superuser",
        "--email",
        "cli-weak@example.com",
        "--password",
        "weak",
        database_url=database_url,
    )
    assert result.returncode == 2
    assert "password" in result.stderr


@pytest.mark.usefixtures("cleanup")
async def test_seed_inserts_users_and_items(database_url: str, engine: AsyncEngine) -> None:
    result = run_cli("seed", "--users", "3", "--items", "50", database_url=database_url)
    assert result.returncode == 0, result.stderr
    async with engine.connect() as connection:
        demo = select(User.id).where(User.email.like("demo%@example.com"))
        users = await connection.scalar(select(func.count()).where(User.id.in_(demo)))
        items = await connection.scalar(select(func.count()).where(Item.owner_id.in_(demo)))
    assert (users, items) == (3, 50)


def test_openapi_prints_the_schema(database_url: str) -> None:
    result = run_cli("openapi", database_url=database_url)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "/api/v1/items" in schema["paths"]


@pytest.mark.parametrize(
    "command",
    [
        "serve",
        "worker",
        "migrate",
        "makemigration",
        "new-resource",
        "create-superuser",
        "seed",
        "openapi",
        "purge-tokens",
    ],
)
def test_every_command_has_help(command: str, database_url: str) -> None:
    result = run_cli(command, "--help", database_url=database_url)
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_bad_setting_is_a_clear_error(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "DB_POOL_SIZE": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "openapi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "DB_POOL_SIZE" in result.stderr
    assert "Traceback" not in result.stderr
