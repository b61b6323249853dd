"""Where one request's CPU time goes: the application called in-process, no HTTP server.

    .venv/bin/python -m bench.request_cost postgresql+asyncpg://postgres@127.0.0.1:5432/db

Drives the ASGI application directly (no sockets, no uvicorn) on a seeded database
(`python -m app seed`), and prints CPU milliseconds per request for a few endpoints,
then for GET /items/{id} with its work removed layer by layer: without the query
(connection checked out only), and without the database at all. The differences
are what each layer costs. CPU time, not wall time, so a busy machine skews it less.
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


def configure(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY="request-cost-secret-key-long-enough-for-hs256",
        ENVIRONMENT="production",
        RATE_LIMIT_ENABLED="false",
        LOG_LEVEL="WARNING",
    )


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def cost(app: Any, name: str, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    status = await call(app, path, headers)
    for _ in range(200):  # warm caches, the pool, compiled statements
        await call(app, path, headers)
    started = time.process_time()
    for _ in range(REQUESTS):
        await call(app, path, headers)
    per_request = (time.process_time() - started) * 1000 / REQUESTS
    print(f"{name:38s} {status}  {per_request:6.3f} ms CPU")  # noqa: T201


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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
