"""Sessions for requests that only read (GET, HEAD, OPTIONS).

They run on an autocommit connection: each statement is its own transaction, so a
request pays no BEGIN and no COMMIT. On PostgreSQL (READ COMMITTED) every statement
of a transaction sees its own snapshot anyway, so reads lose nothing; on SQLite, a
read never holds a snapshot that a writer would have to wait for.

Without a transaction, several writes could not be undone together, so a write in
such a session is refused outright: a GET that writes is a bug, and the error says so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

READ_ONLY = "read_only"


class ReadOnlySessionError(RuntimeError):
    """A write was attempted in a session of a request that only reads."""


class ReadOnlySession(Session):
    """A session that refuses to flush changes or run INSERT, UPDATE or DELETE."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySessionError("this request only reads (GET); writes need another method")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlySessionError("this request only reads (GET); writes need another method")


def make_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=engine.execution_options(isolation_level="AUTOCOMMIT"),
        sync_session_class=ReadOnlySession,
        expire_on_commit=False,
        autoflush=False,
        info={READ_ONLY: True},
    )


def is_read_only(session: AsyncSession) -> bool:
    return bool(session.info.get(READ_ONLY))
