"""Engine, session factory and the per-request session dependency.

The engine is created on first use, not at import: an engine built at import
freezes the configuration and binds its pool to whichever event loop touches it
first. `engine` and `async_session_factory` are served lazily through the module's
`__getattr__`; `dispose_engine()` closes the pool (lifespan, tests, CLI).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings, get_settings
from app.exceptions import AppError

logger = logging.getLogger(__name__)

_engine: AsyncEngine | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None

SQLITE_BUSY_TIMEOUT_MS = 10_000
_AFTER_COMMIT = "after_commit_callbacks"
SQLITE_BEGIN = "sqlite_begin"  # execution option: the BEGIN mode of a transaction


def build_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """An engine configured from settings: pool limits, pre-ping, timeouts, SQLite pragmas."""
    sa_url = make_url(url or settings.sqlalchemy_url)
    kwargs: dict[str, Any] = {"echo": settings.db_echo, "pool_pre_ping": True}
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
        )
        if sa_url.get_driver_name() == "asyncpg":
            kwargs["connect_args"] = {
                "timeout": settings.db_connect_timeout,
                "command_timeout": settings.db_command_timeout,
            }
    engine = create_async_engine(sa_url, **kwargs)
    if sa_url.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Enforce foreign keys, use WAL, and let SQLAlchemy own transactions.

    pysqlite's own transaction handling breaks SAVEPOINT; the documented recipe is
    to switch it off and emit BEGIN ourselves. Sessions begin IMMEDIATE (see
    `make_session_factory`): a deferred transaction that reads and then writes fails
    at once with "database is locked" (busy_timeout does not apply) when another
    connection, such as a job worker, committed in between; IMMEDIATE takes the write
    lock up front and waits for it. Plain connections (health checks) stay deferred.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_session_factory(bind: Any) -> async_sessionmaker[AsyncSession]:
    if isinstance(bind, AsyncEngine):
        bind = bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})  # ignored off SQLite
    return async_sessionmaker(bind=bind, expire_on_commit=False, autoflush=False)


def get_engine() -> AsyncEngine:
    global _engine
    if _engine is None:
        _engine = build_engine(get_settings())
    return _engine


def current_engine() -> AsyncEngine | None:
    """The engine if one has been created, without creating it (metrics, shutdown)."""
    return _engine


def get_session_factory() -> async_sessionmaker[AsyncSession]:
    global _session_factory
    if _session_factory is None:
        _session_factory = make_session_factory(get_engine())
    return _session_factory


async def dispose_engine() -> None:
    global _engine, _session_factory
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _session_factory = None


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, one transaction: commit on success, roll back on error.

    After a successful commit, the callbacks registered with `after_commit` run, in
    order; an error there propagates (the request answers with it).
    """
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            if exc.commit_session:
                await session.commit()
            else:
                await _safe_rollback(session)
            raise
        except BaseException:
            await _safe_rollback(session)
            raise
        for callback in session.info.pop(_AFTER_COMMIT, ()):
            await callback()


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` once the session's transaction has committed, never if it fails.

    For side effects that must only follow durable data, such as queueing a job that
    reads the rows of this transaction. In a request they run before the response.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def _safe_rollback(session: AsyncSession) -> None:
    # A rollback on a dead connection must not mask the original error.
    try:
        await session.rollback()
    except Exception:
        logger.warning("rollback failed", exc_info=True)


async def get_async_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's session, committed before the response is sent."""
    async with session_scope(get_session_factory()) as session:
        yield session


# The one way endpoints and dependencies receive a session. `scope="function"` runs the
# commit before the response is sent, so a failed commit can never follow a 201.
SessionDep = Annotated[AsyncSession, Depends(get_async_session, scope="function")]


def __getattr__(name: str) -> Any:
    if name == "engine":
        return get_engine()
    if name == "async_session_factory":
        return get_session_factory()
    raise AttributeError(name)
