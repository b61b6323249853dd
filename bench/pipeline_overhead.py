"""What the request pipeline and the in-memory rate limiter cost per request, in CPU time.

    .venv/bin/python bench/pipeline_overhead.py [--requests N]

Part 1 drives the ASGI application in-process (no sockets, no database: the
route answers 422 before any query), so the numbers are the pipeline's own
cost: the application with no middleware at all, then the full pipeline with
the limiter off, then on (in memory).

Part 2 compares `limits`' memory storage with the throttled-sweep subclass the
service uses, at steady traffic (the event loop runs between hits, as in a
server), for a moving window over one and over 1,000 client keys.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from app.config import Settings
from app.core.ratelimit import SweepingMemoryStorage, parse_limit
from app.main import create_application

PATH = "/api/v1/items/0"


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def request_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }


async def drive(app: Any, requests: int) -> float:
    """CPU seconds per request for `requests` sequential requests."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    for _ in range(200):  # warm-up: route tables, label caches
        await app(request_scope(PATH), receive, send)
    start = time.process_time()
    for _ in range(requests):
        await app(request_scope(PATH), receive, send)
        await asyncio.sleep(0)  # let background work (sweeps) run, as a server would
    return (time.process_time() - start) / requests


def bare_app() -> Any:
    app = create_application(Settings(rate_limit_enabled=False))
    app.user_middleware.clear()  # the routes and handlers alone
    return app


async def pipeline(requests: int) -> None:
    out(f"Part 1: per-request CPU, GET {PATH} (422, no database), {requests} requests")
    variants: list[tuple[str, Callable[[], Any]]] = [
        ("no middleware", bare_app),
        ("pipeline, limiter off", lambda: create_application(Settings(rate_limit_enabled=False))),
        (
            "pipeline, limiter in memory",
            lambda: create_application(
                Settings(rate_limit_enabled=True, rate_limit_requests=10**9)
            ),
        ),
    ]
    for name, build in variants:
        out(f"  {name:32s} {await drive(build(), requests) * 1e6:8.1f} us")


async def storage(requests: int) -> None:
    out(f"Part 2: moving window hit + stats, {requests} hits, loop yielding between hits")
    item = parse_limit("1000000000/minute")
    makers: list[tuple[str, Callable[[], MemoryStorage]]] = [
        ("limits MemoryStorage", MemoryStorage),
        ("SweepingMemoryStorage", SweepingMemoryStorage),
    ]
    for keys in (1, 1000):
        for name, make in makers:
            limiter = MovingWindowRateLimiter(make())
            cost = await timed_hits(limiter.hit, limiter.get_window_stats, item, keys, requests)
            out(f"  {name:24s} {keys:5d} keys {cost * 1e6:8.1f} us")


async def timed_hits(
    hit: Callable[..., Awaitable[bool]],
    stats: Callable[..., Awaitable[Any]],
    item: Any,
    keys: int,
    requests: int,
) -> float:
    start = time.process_time()
    for n in range(requests):
        await hit(item, "bench", str(n % keys))
        await stats(item, "bench", str(n % keys))
        await asyncio.sleep(0)
    await asyncio.sleep(0.2)  # let a pending sweep finish inside the measurement
    return (time.process_time() - start) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(pipeline(args.requests))
    asyncio.run(storage(args.requests))


if __name__ == "__main__":
    main()
