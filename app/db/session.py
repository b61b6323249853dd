"""Engine, session factory and the per-request session dependency.

The engine is created on first use, not at import: an engine built at import
freezes the configuration and binds its pool to whichever event loop touches it
first. `engine` and `async_session_factory` are served lazily through the module's
`__getattr__`; `dispose_engine()` closes the pool (lifespan, tests, CLI).

Round trips are the cost of a request, so none is spent without a reason:
- GET, HEAD and OPTIONS requests read through an autocommit connection: no BEGIN,
  no COMMIT (see `app/db/readonly.py`, which also refuses writes in them).
- A pooled connection is pinged only when it has sat idle for `DB_POOL_PING_IDLE`
  seconds; one in steady use is not (SQLAlchemy's pre-ping costs three round trips
  per checkout on asyncpg: BEGIN, the ping, ROLLBACK).
- On SQLite a transaction begins at its first write, with BEGIN IMMEDIATE (see
  `app/db/sqlite.py`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings, get_settings
from app.db.admission import session_slot
from app.db.pool import ping_idle_connections
from app.db.readonly import is_read_only, make_read_session_factory
from app.db.sqlite import SQLITE_BUSY_TIMEOUT_MS, configure_sqlite
from app.exceptions import AppError

logger = logging.getLogger(__name__)

_engine: AsyncEngine | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None
_read_session_factory: async_sessionmaker[AsyncSession] | None = None
_AFTER_COMMIT = "after_commit_callbacks"

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A route class attribute: requests of every method get a session that may write.
WRITES_ON_READ = "writes_on_read"


def build_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """An engine configured from settings: pool limits, pre-ping, timeouts, SQLite pragmas."""
    sa_url = make_url(url or settings.sqlalchemy_url)
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
    }
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(pool)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs.update(pool)
        if sa_url.get_driver_name() == "asyncpg":
            kwargs["connect_args"] = {
                "timeout": settings.db_connect_timeout,
                "command_timeout": settings.db_command_timeout,
            }
    engine = create_async_engine(sa_url, **kwargs)
    ping_idle_connections(engine, idle_seconds=settings.db_pool_ping_idle)
    if sa_url.get_backend_name() == "sqlite":
        configure_sqlite(engine)
    return engine


def make_session_factory(bind: Any) -> async_sessionmaker[AsyncSession]:
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


def get_read_session_factory() -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read: autocommit, and writes refused."""
    global _read_session_factory
    if _read_session_factory is None:
        _read_session_factory = make_read_session_factory(get_engine())
    return _read_session_factory


async def dispose_engine() -> None:
    global _engine, _session_factory, _read_session_factory
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _session_factory = None
    _read_session_factory = None


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, one transaction: commit on success, roll back on error.

    After a successful commit, the callbacks registered with `after_commit` run, in
    order; an error there propagates (the request answers with it).
    """
    async with factory() as session:
        try:
            yield session
            if not is_read_only(session):  # autocommit: nothing to commit
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


async def request_reads_only(request: Request) -> bool:
    """GET, HEAD and OPTIONS change nothing, so their session needs no transaction,
    unless their route writes on reads too (`WRITES_ON_READ`: the admin console
    records a session's activity on every page)."""
    return request.method in READ_ONLY_METHODS and not getattr(
        request.scope.get("route"), WRITES_ON_READ, False
    )


async def get_async_session(
    read_only: Annotated[bool, Depends(request_reads_only)] = False,
) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's session, committed before the response is sent.

    Requests that only read get an autocommit session instead: the same queries,
    without the BEGIN and COMMIT round trips. At most `DB_SESSION_LIMIT` requests
    hold a session at once; the others wait their turn (see `app/db/admission.py`).
    """
    factory = get_read_session_factory() if read_only else get_session_factory()
    async with session_slot(get_settings().session_limit), session_scope(factory) as session:
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
