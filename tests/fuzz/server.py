"""A real server process on a fresh, migrated database of its own.

Started the way a user starts it (`python -m app migrate`, then `python -m app serve`)
on a free port. The database is a new SQLite file, or a new PostgreSQL database
named after the given one with a suffix (`_fuzz` by default) appended, dropped and
created again, so a run never touches data it did not create.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.servers import free_port, service

REPO = Path(__file__).resolve().parents[2]
# Settings of the server under test: cheap password hashing (the runs are about
# behaviour, not hashing cost) and no rate limit, as in the rest of the suite.
SERVER_SETTINGS = {
    "ENVIRONMENT": "development",
    "DOCS_ENABLED": "true",
    "SECRET_KEY": "fuzz-secret-key-that-is-long-enough-for-hs256",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_COST": "1024",
    "PASSWORD_HASH_PARALLELISM": "1",
    "RATE_LIMIT_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
    "LOG_JSON": "false",
}
# Settings of the environment that must not leak into the server under test.
_UNSET = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SMTP_HOST")


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    env: Mapping[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env.update(SERVER_SETTINGS, DATABASE_URL=database_url, DATA_DIR=str(data_dir))
    return env


async def _recreate_postgres(url: URL, name: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _drop_postgres(url: URL, name: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(
    postgres_url: str | None, workdir: Path, *, suffix: str = "_fuzz"
) -> Iterator[str]:
    """The URL of an empty database: SQLite in `workdir`, or `<db><suffix>` on PostgreSQL."""
    if not postgres_url:
        yield f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}"
        return
    url = make_url(postgres_url)
    name = f"{url.database}{suffix}"
    asyncio.run(_recreate_postgres(url, name))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_postgres(url, name))


@contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[Server]:
    """Migrate the database, serve it on a free port, and stop the server afterwards."""
    env = server_env(database_url, workdir / "data")
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"], cwd=REPO, env=env, check=True, capture_output=True
    )
    log_path = workdir / "server.log"
    with service(free_port(), env, log_path) as process:
        yield Server(base_url=process.base_url, env=env, log_path=log_path)


def make_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="itemsvc-fuzz-"))
