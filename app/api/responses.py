"""OpenAPI documentation shared by every router: the error envelope, and links.

`errors(...)` documents error statuses in the envelope. `links(...)` documents which
operations take a value from a successful response (an id, a token): generated
clients and Schemathesis' stateful tests follow them (create, then read, update,
delete). Links name operations by id; operation ids are the handlers' names (see
`app.api.openapi.operation_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response, status

from app.schemas.common import ErrorResponse

_DESCRIPTIONS = {
    401: "Missing, invalid, expired or revoked token",
    403: "Authenticated, but not allowed: a missing role, a disabled account, a wrong password",
    404: "Not found (or not yours)",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Validation error",
    429: "Rate limit exceeded",
    500: "Internal error",
    503: "Service unavailable",
}

Responses = dict[int | str, dict[str, Any]]


def errors(*codes: int) -> Responses:
    """`responses=` entries for the given status codes, all in the error envelope."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}


def link(
    operation_id: str,
    description: str,
    *,
    parameters: Mapping[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """One OpenAPI link: values are runtime expressions such as `$response.body#/id`."""
    target: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        target["parameters"] = dict(parameters)
    if body is not None:
        target["requestBody"] = body
    return target


def links(status_code: int, **targets: dict[str, Any]) -> Responses:
    """`responses=` entry adding links (named by the keywords) to a success response."""
    return {status_code: {"links": targets}}


# Route settings for "204 No Content": FastAPI's default response class would still
# send `Content-Type: application/json` with the empty body.
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}

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
