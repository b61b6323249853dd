"""SQLite connections: foreign keys, WAL, and write transactions that never deadlock.

pysqlite's own transaction handling breaks SAVEPOINT, so it is switched off and
SQLAlchemy's transactions are mapped onto SQLite by hand. A transaction begins at
its first write, with BEGIN IMMEDIATE, which takes the write lock at once and waits
for it through the busy timeout. A deferred BEGIN would read first and take the
lock later: in WAL mode a writer whose snapshot is stale then fails at once with
SQLITE_BUSY ("database is locked"), busy timeout or not. Statements before the first
write run in autocommit, each reading the latest committed data, like statements
under PostgreSQL's READ COMMITTED.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Statements that neither write nor open a transaction; anything else is treated as a
# write (taking the lock for a statement that turns out to read is only a little slower).
_NOT_WRITES = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "END", "ROLLBACK", "RELEASE")


def configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from pysqlite
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _begin_at_first_write(
        connection: Connection, cursor: Any, statement: str, *_args: Any
    ) -> None:
        if not is_write(statement) or _autocommit(connection):
            return
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            cursor.execute("BEGIN IMMEDIATE")


def is_write(statement: str) -> bool:
    return not statement.lstrip().upper().startswith(_NOT_WRITES)


def _autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
