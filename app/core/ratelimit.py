"""Rate limiting on the `limits` library: shared through Redis, or per process in memory.

`RateLimiter.check` hits every rule a request falls under and reports the one the
client sees in its `X-RateLimit-*` headers. Windows are moving (exact: at most N
hits in any period) by default, or a sliding-window counter (approximate, two
counters per key) with `RATE_LIMIT_STRATEGY`.

Storage: Redis when `REDIS_URL` is set, so every process and machine shares the
counters (each hit is one atomic Lua script); otherwise memory, per process.
When Redis fails (refused, reset or silent), the limiter does not fail the
request: it logs once, counts in this process's memory for `REDIS_RETRY_AFTER`
seconds, then tries Redis again. Short socket timeouts and no client retries keep
a silent Redis from adding more than `REDIS_TIMEOUT` to the first requests of an
outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits import parse as parse_limit
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import RateLimiter as Strategy
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.config import Settings

logger = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5  # seconds, connect and read
REDIS_RETRY_AFTER = 5.0  # seconds on memory before trying Redis again
MEMORY_SWEEP_INTERVAL = 5.0  # seconds between sweeps of expired in-memory entries
STORAGE_ERRORS = (StorageError, OSError)  # TimeoutError and ConnectionError are OSErrors
STRATEGIES: dict[str, Callable[[Storage], Strategy]] = {
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}


class SweepingMemoryStorage(MemoryStorage):
    """`limits`' memory storage, sweeping expired entries every few seconds, not on every hit.

    The library schedules a sweep task after each hit; for moving windows that
    sweep hops to a worker thread once per key, several times the CPU cost of the
    hit itself (measured: docs/performance.md). Only garbage
    collection is throttled: reads ignore expired entries either way.
    """

    _last_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= MEMORY_SWEEP_INTERVAL:
            self._last_sweep = now
            await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit applied to one subject, e.g. 100/60 s for client address 203.0.113.9."""

    name: str
    item: RateLimitItem
    subject: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until a slot frees up

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_after).encode()),
        ]


def per_period(amount: int, seconds: int) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, seconds)


def redis_pool(redis_url: str) -> ConnectionPool:
    """Connections with short timeouts and no client-side retries: the fallback is the retry."""
    return ConnectionPool.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def redis_storage(redis_url: str, pool: ConnectionPool, key_prefix: str) -> RedisStorage:
    url = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    # Through **options: `limits` types its storage options as scalars, not a pool.
    options: dict[str, Any] = {"connection_pool": pool}
    return RedisStorage(
        url, wrap_exceptions=True, implementation="redispy", key_prefix=key_prefix, **options
    )


class RateLimiter:
    """Hit rules against Redis when configured, against memory otherwise or meanwhile."""

    def __init__(self, settings: Settings) -> None:
        strategy = STRATEGIES[settings.rate_limit_strategy]
        self.memory: Strategy = strategy(SweepingMemoryStorage())
        self.redis_pool: ConnectionPool | None = None
        self.redis: Strategy | None = None
        if settings.redis_url:
            self.redis_pool = redis_pool(settings.redis_url)
            prefix = settings.rate_limit_key_prefix
            self.redis = strategy(redis_storage(settings.redis_url, self.redis_pool, prefix))
        self._redis_down_until = 0.0

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but being skipped after a failure."""
        return self.redis is not None and time.monotonic() < self._redis_down_until

    async def check(self, rules: Sequence[Rule], *, report: int = 0) -> Decision:
        """Hit each rule in turn; stop at the first exhausted one and report it.

        When all pass, the rule at index `report` is the one described to the client.
        """
        strategy = self._strategy()
        try:
            return await self._check(strategy, rules, report)
        except STORAGE_ERRORS as exc:
            if strategy is self.memory:
                raise
            self._redis_failed(exc)
            return await self._check(self.memory, rules, report)

    async def _check(self, strategy: Strategy, rules: Sequence[Rule], report: int) -> Decision:
        for rule in rules:
            if not await strategy.hit(rule.item, rule.name, rule.subject):
                return await self._describe(strategy, rule, allowed=False)
        if self.redis is not None and strategy is self.redis:
            self._redis_recovered()
        return await self._describe(strategy, rules[report], allowed=True)

    @staticmethod
    async def _describe(strategy: Strategy, rule: Rule, *, allowed: bool) -> Decision:
        stats = await strategy.get_window_stats(rule.item, rule.name, rule.subject)
        reset_after = max(1, ceil(stats.reset_time - time.time()))
        remaining = max(0, stats.remaining) if allowed else 0
        return Decision(allowed, rule.item.amount, remaining, reset_after)

    def _strategy(self) -> Strategy:
        if self.redis is None or time.monotonic() < self._redis_down_until:
            return self.memory
        return self.redis

    def _redis_failed(self, exc: BaseException) -> None:
        if not self._redis_down_until:
            logger.warning(
                "rate limiter: Redis unavailable (%r); counting in process memory, "
                "retrying Redis every %.0f s",
                exc,
                REDIS_RETRY_AFTER,
            )
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER

    def _redis_recovered(self) -> None:
        if self._redis_down_until:
            logger.warning("rate limiter: Redis is back; limits are shared again")
            self._redis_down_until = 0.0

    async def aclose(self) -> None:
        if self.redis_pool is not None:
            await self.redis_pool.aclose()


__all__ = ["Decision", "RateLimiter", "Rule", "parse_limit", "per_period"]
