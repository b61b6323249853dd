"""Liveness and readiness probes.

Readiness checks every dependency the configuration names, concurrently, each
with its own short timeout, so a probe answers within `CHECK_TIMEOUT` even when
a dependency is silent: the database always; Redis when `REDIS_URL` is set; the
Celery broker when it is a Redis server (`CELERY_BROKER_URL`, or `REDIS_URL`
when that is the broker). The embedded broker lives in the database or on local
disk and needs no check of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text

from app.api.responses import errors
from app.config import Settings, get_settings
from app.db.session import get_engine
from app.exceptions import ServiceError, error_response

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 2.0
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

Check = Callable[[], Awaitable[None]]


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Touches no database."""
    return {"status": "healthy"}


async def check_database() -> None:
    async with get_engine().connect() as connection:
        await connection.execute(text("SELECT 1"))


def redis_check(url: str) -> Check:
    async def ping() -> None:
        client = Redis.from_url(
            url,
            socket_timeout=CHECK_TIMEOUT,
            socket_connect_timeout=CHECK_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            await client.ping()
        finally:
            await client.aclose()

    return ping


def broker_url(settings: Settings) -> str | None:
    """The Celery broker's URL when it is a Redis server, None for the embedded broker."""
    url = settings.celery_broker_url or settings.redis_url
    return url if url and url.startswith(REDIS_SCHEMES) else None


def readiness_checks(settings: Settings) -> dict[str, Check]:
    checks: dict[str, Check] = {"database": check_database}
    if settings.redis_url:
        checks["redis"] = redis_check(settings.redis_url)
    if broker := broker_url(settings):
        checks["broker"] = redis_check(broker)
    return checks


async def _passes(name: str, check: Check) -> bool:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness check %s failed: %r", name, exc)
        return False
    return True


@router.get("/health/ready", response_model=None, responses=errors(503))
async def ready() -> dict[str, object] | JSONResponse:
    """Readiness: the database, and Redis and the broker when configured, answer in time."""
    checks = readiness_checks(get_settings())
    results = await asyncio.gather(*(_passes(name, check) for name, check in checks.items()))
    status = {
        name: "ok" if passed else "unavailable"
        for name, passed in zip(checks, results, strict=True)
    }
    failed = [name for name, value in status.items() if value != "ok"]
    if failed:
        return error_response(
            503,
            ServiceError.error_code,
            f"Not ready: {', '.join(failed)} unavailable",
            {"failed": failed, "checks": status},
        )
    return {"status": "ready", "checks": status}
