"""The limiter on Redis: shared between instances, and degrading (never failing) when Redis does.

Degraded mode, as documented: when Redis refuses, resets or goes silent, each
process counts in its own memory for `REDIS_RETRY_AFTER` seconds, then tries
Redis again; a request never fails because of the limiter, and a silent Redis
costs at most one socket timeout before the fallback takes over.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.core import ratelimit
from app.core.ratelimit import RateLimiter
from tests.ratelimit_helpers import CHEAP_ROUTE, REDIS_URL, Caller, LimitedApps
from tests.server import free_port
from tests.tcp_proxy import TcpProxy

LIMIT = 3
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")


@pytest.fixture
async def limited() -> AsyncIterator[Callable[..., Caller]]:
    apps = LimitedApps("memory")  # each test names its own REDIS_URL
    yield apps
    await apps.close()


def limiter_of(call: Caller) -> RateLimiter:
    limiter: RateLimiter = call.app.state.rate_limiter
    return limiter


async def test_refused_redis_falls_back_to_memory_and_still_limits(
    limited: Callable[..., Caller], caplog: pytest.LogCaptureFixture
) -> None:
    call = limited(redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit_requests=LIMIT)
    with caplog.at_level(logging.WARNING, logger="app.core.ratelimit"):
        statuses = [(await call("GET", CHEAP_ROUTE)).status_code for _ in range(LIMIT + 1)]
    assert statuses == [422] * LIMIT + [429]
    assert limiter_of(call).degraded
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request


async def test_silent_redis_costs_one_timeout_then_nothing(
    limited: Callable[..., Caller], silent_port: int
) -> None:
    call = limited(redis_url=f"redis://127.0.0.1:{silent_port}/0", rate_limit_requests=LIMIT)
    start = time.perf_counter()
    first = await call("GET", CHEAP_ROUTE)
    first_took = time.perf_counter() - start
    assert first.status_code == 422
    assert first.headers["x-ratelimit-remaining"] == str(LIMIT - 1)
    # One wait of about REDIS_TIMEOUT, not redis-py's default 5 s (margin for a busy machine).
    assert ratelimit.REDIS_TIMEOUT * 0.8 <= first_took < ratelimit.REDIS_TIMEOUT + 3.0
    start = time.perf_counter()
    for _ in range(LIMIT - 1):
        assert (await call("GET", CHEAP_ROUTE)).status_code == 422
    # No more waiting on Redis: waiting again would cost REDIS_TIMEOUT per request.
    assert time.perf_counter() - start < (LIMIT - 1) * ratelimit.REDIS_TIMEOUT * 0.8
    assert (await call("GET", CHEAP_ROUTE)).status_code == 429


@needs_redis
async def test_instances_sharing_redis_share_the_limit(limited: Callable[..., Caller]) -> None:
    prefix = f"shared-{secrets.token_hex(6)}"
    first, second = (
        limited(redis_url=REDIS_URL, rate_limit_requests=LIMIT, rate_limit_key_prefix=prefix)
        for _ in range(2)
    )
    answers = [(await (first, second)[n % 2]("GET", CHEAP_ROUTE)).status_code for n in range(4)]
    assert answers == [422, 422, 422, 429]
    assert (await first("GET", CHEAP_ROUTE)).status_code == 429


@needs_redis
async def test_limiter_returns_to_redis_when_it_is_back(
    limited: Callable[..., Caller],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert REDIS_URL
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_AFTER", 0.3)
    host_port, _, database = REDIS_URL.removeprefix("redis://").partition("/")
    host, _, port = host_port.partition(":")
    proxy = TcpProxy(host, int(port or 6379))
    await proxy.start()
    try:
        prefix = f"recovery-{secrets.token_hex(6)}"
        redis_url = f"redis://127.0.0.1:{proxy.port}/{database or 0}"
        call = limited(redis_url=redis_url, rate_limit_key_prefix=prefix)
        limiter = limiter_of(call)
        assert (await call("GET", CHEAP_ROUTE)).status_code == 422
        await proxy.refuse()
        assert (await call("GET", CHEAP_ROUTE)).status_code == 422
        assert limiter.degraded
        await proxy.restore()
        await asyncio.sleep(0.4)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="app.core.ratelimit"):
            assert (await call("GET", CHEAP_ROUTE)).status_code == 422
            assert not limiter.degraded
            assert [r.getMessage() for r in caplog.records] == [
                "rate limiter: Redis is back; limits are shared again"
            ]
            await proxy.refuse()  # a second outage is reported like the first
            assert (await call("GET", CHEAP_ROUTE)).status_code == 422
            assert "Redis unavailable" in caplog.records[-1].getMessage()
            await proxy.restore()
        async with Redis.from_url(REDIS_URL) as redis:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        assert keys, "no counter reached Redis after recovery"
    finally:
        await proxy.close()
