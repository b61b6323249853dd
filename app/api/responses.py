"""OpenAPI documentation of the error envelope, shared by every router."""

from __future__ import annotations

from typing import Any

from app.schemas.common import ErrorResponse

_DESCRIPTIONS = {
    401: "Missing, invalid, expired or revoked token",
    403: "Authenticated, but lacking the role",
    404: "Not found (or not yours)",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Validation error",
    429: "Rate limit exceeded",
    500: "Internal error",
    503: "Service unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given status codes, all in the error envelope."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}


COMMON_ERRORS = errors(422, 500, 503)

_RATE_LIMIT_HEADERS = {
    "Retry-After": "Seconds to wait before retrying",
    "X-RateLimit-Limit": "Requests allowed in the window",
    "X-RateLimit-Remaining": "Requests left in the window",
    "X-RateLimit-Reset": "Seconds until a request is allowed again",
}
# Every API route: the body-size limit and the rate limiter answer before routing.
LIMIT_ERRORS = errors(413) | {
    429: {
        **errors(429)[429],
        "headers": {
            name: {"description": text, "schema": {"type": "integer"}}
            for name, text in _RATE_LIMIT_HEADERS.items()
        },
    }
}
AUTH_ERRORS = errors(401, 403)
