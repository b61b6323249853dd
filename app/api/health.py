"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.responses import errors
from app.db.session import get_engine
from app.exceptions import error_response

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 2.0


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Touches no database."""
    return {"status": "healthy"}


async def check_database() -> None:
    async with get_engine().connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get("/health/ready", response_model=None, responses=errors(503))
async def ready() -> dict[str, object] | JSONResponse:
    """Readiness: the database (and Redis, the broker when configured) answer."""
    checks = {"database": check_database}
    failed: list[str] = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            logger.warning("readiness check %s failed: %r", name, exc)
            failed.append(name)
    if failed:
        return error_response(
            503,
            "SERVICE_UNAVAILABLE",
            f"Not ready: {', '.join(failed)} unavailable",
            {"failed": failed},
        )
    return {"status": "ready", "checks": dict.fromkeys(checks, "ok")}
