"""The floor of the stack: `GET /items/{id}` in FastAPI with none of the service's code.

Two apps, each one route with the service's response model (`ItemResponse`) and
nothing else: no middleware, no authentication, no request log. Like the service,
they settle the garbage collector once started (`app/core/gc_tuning.py`), or its
full collections of FastAPI's and SQLAlchemy's start-up objects would be their p99.

- `pool_app`: the row read from an asyncpg pool, as the reference app reads it.
  What FastAPI itself costs over the reference's Starlette route.
- `session_app`: the row read through an SQLAlchemy `AsyncSession` from a `yield`
  dependency, on an autocommit connection and the session's own driver connection,
  as the service reads it (`app/db/fetch.py`). What a FastAPI service that takes
  its session from a dependency costs at the least.

`make bench` runs both beside the reference on the largest dataset: their ratios
are the best any service on this stack could show.
`uvicorn bench.floor:pool_app`, configured by `BENCH_REF_DSN` (asyncpg) and
`DATABASE_URL` (SQLAlchemy). Both pools hold 40 connections, more than the
harness's 32, so no request waits for one: with fewer, the few requests queued in
SQLAlchemy's pool made the p99 (450 ms with 20 connections, 170 ms with 30), which
the service's admission control (`app/db/admission.py`) keeps it from.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.gc_tuning import settle_after_startup
from app.schemas.item import ItemResponse
from bench import ITEM_COLUMNS

ROUTE = "/api/v1/items/{item_id:int}"
ITEM_BY_ID = f"SELECT {ITEM_COLUMNS} FROM items WHERE id = $1"  # as the reference reads it
POOL_SIZE = 40
# Made at start-up, in the server's event loop: the asyncpg pool, the session factory.
STATE: dict[str, Any] = {}


async def health() -> dict[str, str]:
    """What the harness waits for before it starts measuring."""
    return {"status": "healthy"}


def item(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        raise HTTPException(404)
    return dict(row)


@asynccontextmanager
async def pool_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ.get("BENCH_REF_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    STATE["pool"] = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    settle_after_startup()
    yield
    await STATE.pop("pool").close()


pool_app = FastAPI(lifespan=pool_lifespan)
pool_app.get("/health")(health)


@pool_app.get(ROUTE, response_model=ItemResponse)
async def read_item_from_pool(item_id: int) -> Any:
    async with STATE["pool"].acquire() as connection:
        return item(await connection.fetchrow(ITEM_BY_ID, item_id))


@asynccontextmanager
async def session_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    url = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)
    STATE["sessions"] = async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    settle_after_startup()
    yield
    del STATE["sessions"]
    await engine.dispose()


async def get_session() -> AsyncIterator[AsyncSession]:
    async with STATE["sessions"]() as session:
        yield session


session_app = FastAPI(lifespan=session_lifespan)
session_app.get("/health")(health)


@session_app.get(ROUTE, response_model=ItemResponse)
async def read_item_in_session(
    item_id: int, session: Annotated[AsyncSession, Depends(get_session)]
) -> Any:
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    return item(await driver.fetchrow(ITEM_BY_ID, item_id))
