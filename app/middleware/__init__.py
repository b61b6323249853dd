"""The request pipeline, outermost first:

1. `RequestContextMiddleware`: request id, security headers, request log, metrics
2. CORS (only when `CORS_ORIGINS` is set), so browsers can read errors too
3. GZip, for responses over 1,000 bytes when the client accepts it
4. `BodyLimitMiddleware`: 413 for bodies over the limit, while they stream
5. `RateLimitMiddleware` (unless `RATE_LIMIT_ENABLED=false`): 429 before any work

All are pure ASGI. Starlette's own error middleware stays outermost and renders
unexpected errors; everything else (404, 422, database outages) passes through
the whole pipeline.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from app.api.uploads import MULTIPART_OVERHEAD
from app.config import Settings
from app.core.ratelimit import RateLimiter
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.context import RequestContextMiddleware
from app.middleware.rate_limit import RateLimitMiddleware

GZIP_MINIMUM_SIZE = 1000
GZIP_LEVEL = 6  # most of level 9's savings on JSON for a fraction of the CPU
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "X-Request-ID"]
CORS_EXPOSED_HEADERS = [
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the pipeline; the rate limiter is kept in `app.state.rate_limiter` (or None)."""
    app.state.rate_limiter = None
    # add_middleware puts each layer outside the previous ones: innermost first.
    if settings.rate_limit_enabled:
        limiter = RateLimiter(settings)
        app.state.rate_limiter = limiter
        app.add_middleware(RateLimitMiddleware, limiter=limiter, settings=settings)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_size,
        # The upload's own limit is on the file (MAX_IMPORT_SIZE); its multipart framing
        # comes on top, and the endpoint counts both as the body streams in.
        per_path={
            f"{settings.api_prefix.rstrip('/')}/items/import": settings.max_import_size
            + MULTIPART_OVERHEAD
        },
    )
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=GZIP_LEVEL)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Bearer tokens, not cookies: credentials are never needed, and a
            # credentialed wildcard would let any site act as the user.
            allow_credentials=False,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, settings=settings)


async def close_middleware(app: FastAPI) -> None:
    """Release what the pipeline holds (the rate limiter's Redis connections)."""
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is not None:
        await limiter.aclose()
