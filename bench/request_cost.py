"""Where one request's CPU time goes: the application called in-process, no HTTP server.

    .venv/bin/python -m bench.request_cost postgresql+asyncpg://postgres@127.0.0.1:5432/db

Drives the ASGI application directly (no sockets, no uvicorn) on a seeded database
(`python -m app seed`), and prints CPU milliseconds per request for a few endpoints,
then for GET /items/{id} with its work removed layer by layer: without the query
(connection checked out only), and without the database at all. The differences
are what each layer costs. CPU time, not wall time, so a busy machine skews it less.

Last, the floor the stack itself sets, with none of the service's code: the same
item answered by a bare Starlette route and by a bare FastAPI route with a response
model, and the same row read through an asyncpg pool and through an SQLAlchemy
AsyncSession (and on that session's own driver connection, as `app/db/fetch.py`
reads, and the session with its connection alone, no query). No service built on
FastAPI and SQLAlchemy sessions can cost less than the sum of the FastAPI line and
the session's.

POST /items creates rows; `make bench` deletes what earlier runs wrote.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

REQUESTS = 2000
ITEM_SQL = "SELECT id, title, description, price, owner_id, created_at, updated_at FROM items"


def configure(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY="request-cost-secret-key-long-enough-for-hs256",
        ENVIRONMENT="production",
        RATE_LIMIT_ENABLED="false",
        LOG_LEVEL="WARNING",
    )


async def call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes | None = None
) -> int:
    """One request (a POST of JSON `body` if given, else a GET); its status."""
    path, _, query = path.partition("?")
    if body is not None:
        headers = [*headers, (b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "GET" if body is None else "POST", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body or b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def cost(
    app: Any, name: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes | None = None
) -> None:
    status = await call(app, path, headers, body)
    report(name, await cpu_ms(lambda: call(app, path, headers, body)), status)


def report(name: str, cpu: float, status: int | str = "") -> None:
    print(f"{name:38s} {status!s:3s}  {cpu:6.3f} ms CPU")  # noqa: T201 - the script's output


async def cpu_ms(work: Callable[[], Awaitable[Any]]) -> float:
    """CPU milliseconds per call of `work`, after a warm-up (caches, pool, statements)."""
    for _ in range(200):
        await work()
    started = time.process_time()
    for _ in range(REQUESTS):
        await work()
    return (time.process_time() - started) * 1000 / REQUESTS


def bare_apps(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """The item route with nothing around it: Starlette + orjson, FastAPI + response model."""
    import orjson
    from fastapi import FastAPI
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from app.schemas.item import ItemResponse

    async def starlette_item(_request: Request) -> Response:
        return Response(orjson.dumps(row, default=str), media_type="application/json")

    fastapi_app = FastAPI()

    @fastapi_app.get("/items/{item_id:int}", response_model=ItemResponse)
    async def fastapi_item(item_id: int) -> dict[str, Any]:
        return row

    starlette_app = Starlette(routes=[Route("/items/{item_id:int}", starlette_item)])
    return [
        ("Starlette route, orjson", starlette_app),
        ("FastAPI route, response_model", fastapi_app),
    ]


async def floor(url: str, row: dict[str, Any]) -> None:
    """What the frameworks cost with no service code: routes, then one row read."""
    import asyncpg
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    print("the stack alone, for GET /items/{id}:")  # noqa: T201
    for name, app in bare_apps(row):
        report(f"  {name}", await cpu_ms(lambda app=app: call(app, "/items/1", [])))
    if make_url(url).get_backend_name() != "postgresql":
        return
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    engine = create_async_engine(url, pool_size=2)
    # Autocommit, as the service reads: no BEGIN or COMMIT round trips.
    sessions = async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    by_id = text(f"{ITEM_SQL} WHERE id = :item_id")

    async def asyncpg_row() -> None:
        async with pool.acquire() as connection:
            await connection.fetchrow(f"{ITEM_SQL} WHERE id = $1", 1)

    async def session_row() -> None:
        async with sessions() as session:
            (await session.execute(by_id, {"item_id": 1})).all()

    async def session_driver_row() -> None:  # as app/db/fetch.py reads
        async with sessions() as session:
            connection = await session.connection()
            driver: Any = (await connection.get_raw_connection()).driver_connection
            await driver.fetchrow(f"{ITEM_SQL} WHERE id = $1", 1)

    async def session_only() -> None:
        async with sessions() as session:
            await session.connection()

    for name, read in [
        ("asyncpg pool, fetchrow", asyncpg_row),
        ("SQLAlchemy AsyncSession", session_row),
        ("  the same, read on the driver", session_driver_row),
        ("  the same, connection but no query", session_only),
    ]:
        report(f"  {name}", await cpu_ms(read))
    await pool.close()
    await engine.dispose()


async def main(url: str) -> None:
    configure(url)
    # Imported once the environment is set: settings are read on first use.
    from app.core.security import create_access_token
    from app.main import create_application
    from app.services.item import ItemService

    app = create_application()
    token = create_access_token(1, extra_claims={"ver": 0})
    auth = [(b"authorization", f"Bearer {token}".encode())]
    await cost(app, "GET /health", "/health", [])
    await cost(app, "GET /users/me (user 1)", "/api/v1/users/me", auth)
    await cost(app, "GET /items?page_size=20", "/api/v1/items?page_size=20", [])
    item = b'{"title": "Bench lamp", "description": "made by request_cost", "price": "12.50"}'
    await cost(app, "POST /items (user 1)", "/api/v1/items", auth, item)
    await cost(app, "GET /items/{id}", "/api/v1/items/1", [])
    row = {
        "id": 1, "title": "t", "description": None, "price": Decimal("1.00"), "owner_id": 1,
        "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC),
    }  # fmt: skip

    async def checkout_only(self: ItemService, _item_id: int) -> dict[str, Any]:
        await self.session.connection()
        return row

    async def no_database(_self: ItemService, _item_id: int) -> dict[str, Any]:
        return row

    variants: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
        ("  the same, connection but no query", checkout_only),
        ("  the same, no database at all", no_database),
    ]
    for name, read in variants:
        ItemService.read = read  # type: ignore[method-assign]
        await cost(app, name, "/api/v1/items/1", [])
    await floor(url, row)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
