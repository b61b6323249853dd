"""Checking pooled connections before use, only when they may have gone stale.

SQLAlchemy's `pool_pre_ping` pings on every checkout; on asyncpg that ping is three
round trips (BEGIN, an empty query, ROLLBACK), more than the query a typical request
makes. A connection handed back a moment ago is as alive as a ping would show, so
only connections idle for longer than a threshold are pinged. One that fails the
ping is replaced before the request sees it; one that died while in steady use fails
its query, which answers 503 and invalidates the pool, so the next requests reconnect.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

_IDLE_SINCE = "idle_since"


def ping_idle_connections(engine: AsyncEngine, *, idle_seconds: float) -> None:
    """Ping a connection at checkout when it has been idle `idle_seconds` or more (0: always)."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:  # a new connection: it just answered
            return
        if time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another (or connects anew).
            raise DisconnectionError("stale pooled connection") from exc
