"""The seeded databases: created once, reused while their row counts still match.

A dataset is N users and M items seeded by `python -m app seed`. Before every run the
rows the previous run wrote (items titled `bench ...`, refresh tokens) are deleted,
so a rerun finds the same counts and skips the seeding.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import make_url

from bench.servers import ROOT

logger = logging.getLogger("bench")

PASSWORD = "Bench-Password-1"
BENCH_TITLE = "bench item"  # what the harness's POSTs are titled, so cleanup finds them


@dataclass(frozen=True, slots=True)
class Dataset:
    label: str  # e.g. "pg-1m"
    url: str  # SQLAlchemy URL the service uses
    users: int
    items: int

    @property
    def backend(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def dsn(self) -> str:
        """A plain libpq DSN for asyncpg (the reference app)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Fixtures:
    """What requests are built from: the seeded id range and the demo users."""

    first_item: int
    last_item: int
    first_user: int
    last_user: int


def _app(args: list[str], url: str) -> None:
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=_env(env), check=True)


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def prepare(dataset: Dataset) -> Fixtures:
    """Migrate, clean up after earlier runs, seed if the counts differ; the fixtures."""
    if dataset.backend == "postgresql":
        asyncio.run(_create_database(dataset))
    else:
        Path(make_url(dataset.url).database or "").parent.mkdir(parents=True, exist_ok=True)
    _app(["migrate"], dataset.url)
    counts = _cleanup(dataset)
    if counts != (dataset.users, dataset.items) or not _password_matches(dataset):
        logger.info(
            "%s: %s rows found, seeding %s users and %s items",
            dataset.label,
            counts,
            dataset.users,
            dataset.items,
        )
        _empty(dataset)
        _app(
            [
                "seed",
                "--users",
                str(dataset.users),
                "--items",
                str(dataset.items),
                "--password",
                PASSWORD,
            ],
            dataset.url,
        )
    else:
        logger.info("%s: reusing the seeded database (%s users, %s items)", dataset.label, *counts)
    return _vacuum_and_fixtures(dataset)


async def _create_database(dataset: Dataset) -> None:
    name = make_url(dataset.url).database
    admin = await asyncpg.connect(
        make_url(dataset.dsn).set(database="postgres").render_as_string(hide_password=False)
    )
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


_CLEANUP = (
    f"DELETE FROM items WHERE title LIKE '{BENCH_TITLE}%'",
    "DELETE FROM refresh_tokens",
)
_COUNTS = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM items)"
_EMPTY_PG = "TRUNCATE users, items, refresh_tokens RESTART IDENTITY CASCADE"
_RANGES = "SELECT min(id), max(id) FROM {table}"


def _cleanup(dataset: Dataset) -> tuple[int, int]:
    if dataset.backend == "postgresql":
        return asyncio.run(_pg(dataset, [*_CLEANUP], _COUNTS))
    with _sqlite(dataset) as db:
        for statement in _CLEANUP:
            db.execute(statement)
        return tuple(db.execute(_COUNTS).fetchone())


def _password_matches(dataset: Dataset) -> bool:
    """Whether the demo users are `demo<id>@example.com` with the harness's password."""
    query = "SELECT hashed_password FROM users WHERE email = 'demo' || id || '@example.com' LIMIT 1"
    if dataset.backend == "postgresql":
        hashed = asyncio.run(_pg_value(dataset, query))
    else:
        with _sqlite(dataset) as db:
            hashed = (db.execute(query).fetchone() or [None])[0]
    try:
        return isinstance(hashed, str) and PasswordHasher().verify(hashed, PASSWORD)
    except (VerificationError, InvalidHashError):
        return False


async def _pg_value(dataset: Dataset, query: str) -> object:
    connection = await asyncpg.connect(dataset.dsn)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def _empty(dataset: Dataset) -> None:
    """No rows, and ids from 1 again (the demo e-mails follow the ids)."""
    if dataset.backend == "postgresql":
        asyncio.run(_pg(dataset, [_EMPTY_PG], None))
        return
    path = make_url(dataset.url).database or ""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _app(["migrate"], dataset.url)


def _vacuum_and_fixtures(dataset: Dataset) -> Fixtures:
    if dataset.backend == "postgresql":
        asyncio.run(_pg(dataset, ["VACUUM ANALYZE"], None))
        items = asyncio.run(_pg(dataset, [], _RANGES.format(table="items")))
        users = asyncio.run(_pg(dataset, [], _RANGES.format(table="users")))
    else:
        with _sqlite(dataset) as db:
            db.execute("ANALYZE")
            items = db.execute(_RANGES.format(table="items")).fetchone()
            users = db.execute(_RANGES.format(table="users")).fetchone()
    return Fixtures(
        first_item=items[0], last_item=items[1], first_user=users[0], last_user=users[1]
    )


async def _pg(dataset: Dataset, statements: list[str], query: str | None) -> tuple[int, int]:
    connection = await asyncpg.connect(dataset.dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
        row = await connection.fetchrow(query) if query else None
        return (row[0], row[1]) if row else (0, 0)
    finally:
        await connection.close()


def _sqlite(dataset: Dataset) -> closing[sqlite3.Connection]:
    connection = sqlite3.connect(make_url(dataset.url).database or "", isolation_level=None)
    connection.execute("PRAGMA busy_timeout=10000")
    return closing(connection)
