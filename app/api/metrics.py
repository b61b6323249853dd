"""`GET /metrics`: Prometheus text format, for a scraper on the private network."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import Response

from app.core.metrics import CONTENT_TYPE_LATEST, exposition

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics() -> Response:
    """Request counts and latencies by route template and status, in-flight requests, DB pool."""
    # Reading every worker's sample files is file I/O: off the event loop.
    body = await anyio.to_thread.run_sync(exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
