"""Errors, and the one envelope every error is answered with.

    AppError                      500 INTERNAL_ERROR
     ├── ValidationError          422 VALIDATION_ERROR
     ├── UnauthorizedError        401 UNAUTHORIZED (WWW-Authenticate: Bearer)
     ├── ForbiddenError           403 FORBIDDEN
     ├── NotFoundError            404 NOT_FOUND
     ├── ConflictError            409 CONFLICT
     ├── PayloadTooLargeError     413 PAYLOAD_TOO_LARGE
     ├── RateLimitError           429 RATE_LIMIT_EXCEEDED (Retry-After)
     └── ServiceError             503 SERVICE_UNAVAILABLE

Body: `{"error": {"code": ..., "message": ..., "details": {...}}}`. Services raise
these; `register_exception_handlers` renders them, and also renders FastAPI's
request validation errors, Starlette's HTTP errors (unknown route, wrong method),
database outages and unexpected exceptions in the same envelope.

422 is for a request that does not fit its documented schema. One that fits it but
whose path names a row that is missing or not the caller's is 404 (`NotFoundError`);
one whose body does, or that clashes with the data's state (a name taken), is 409
(`ConflictError`): never 422 (docs/development/adding-a-resource.md).

Two framework answers are corrected on the way: a body the framework cannot parse
(not UTF-8, nested too deep, a broken multipart stream) is a 400 in Starlette and
FastAPI, and becomes a 422 `VALIDATION_ERROR` like any other malformed body; and a
405 lists in `Allow` every method of every route at that path, not only those of
the first route the router tried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)


class AppError(Exception):
    status_code = 500
    error_code = "INTERNAL_ERROR"
    default_message = "Internal server error"
    # Commit the request's transaction even though the request fails (for example a
    # token family revoked on reuse must stay revoked). Rare by design.
    commit_session = False

    def __init__(
        self,
        message: str | None = None,
        status_code: int | None = None,
        error_code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if status_code is not None:
            self.status_code = status_code
        if error_code is not None:
            self.error_code = error_code
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)


class ValidationError(AppError):
    status_code = 422
    error_code = "VALIDATION_ERROR"
    default_message = "Request validation failed"


class UnauthorizedError(AppError):
    status_code = 401
    error_code = "UNAUTHORIZED"
    default_message = "Could not validate credentials"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class ForbiddenError(AppError):
    status_code = 403
    error_code = "FORBIDDEN"
    default_message = "Not enough privileges"


class NotFoundError(AppError):
    status_code = 404
    error_code = "NOT_FOUND"
    default_message = "Not found"


class ConflictError(AppError):
    status_code = 409
    error_code = "CONFLICT"
    default_message = "Conflict"


class PayloadTooLargeError(AppError):
    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body too large"


class RateLimitError(AppError):
    status_code = 429
    error_code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests"


class ServiceError(AppError):
    status_code = 503
    error_code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable"


# Errors that mean "the database is unreachable", not "the code is wrong".
DATABASE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)

_STATUS_CODES = {
    401: UnauthorizedError.error_code,
    403: ForbiddenError.error_code,
    404: NotFoundError.error_code,
    405: "METHOD_NOT_ALLOWED",
    409: ConflictError.error_code,
    413: PayloadTooLargeError.error_code,
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: ValidationError.error_code,
    429: RateLimitError.error_code,
    503: ServiceError.error_code,
}


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": dict(details or {})}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, details), status_code=status_code, headers=dict(headers or {})
    )


def format_validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's error list as `[{"field": "body.price", "message": ...}]`."""
    formatted = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        formatted.append({"field": location, "message": str(error.get("msg", "Invalid value"))})
    return formatted


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.error_code, exc.message, exc.details, exc.headers)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = format_validation_errors(exc.errors())
    return error_response(
        422, ValidationError.error_code, "Request validation failed", {"errors": errors}
    )


_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def allowed_methods(request: Request) -> list[str]:
    """Every method that some route serves at the request's path.

    Asks the router itself, one method at a time, so routes nested in included
    routers count too.
    """
    allowed = []
    for method in _HTTP_METHODS:
        scope = {**request.scope, "method": method, "fastapi": {}}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 400:
        # The framework's only 400s are bodies it could not parse: a validation error.
        errors = [{"field": "body", "message": message}]
        return error_response(
            422, ValidationError.error_code, "Malformed request body", {"errors": errors}
        )
    code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
    if exc.status_code == 404 and message == "Not Found":
        message = "Resource not found"
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, code, message, headers=headers)


async def _database_outage(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable (request %s): %r", _request_id(request), exc)
    return error_response(
        503,
        ServiceError.error_code,
        "Database unavailable",
        {"component": "database"},
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DATABASE_OUTAGE_ERRORS) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return await _database_outage(request, exc)
    logger.exception("unhandled error (request %s)", _request_id(request), exc_info=exc)
    return error_response(500, AppError.error_code, AppError.default_message)


async def _last_resort(request: Request, exc: Exception) -> JSONResponse:
    """The catch-all: answered outside the middleware, which adds the request id elsewhere."""
    response = await _unexpected_error(request, exc)
    if (request_id := _request_id(request)) != "-":
        response.headers["X-Request-ID"] = request_id
    return response


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error_type in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(error_type, _database_outage)
    # Other driver errors (a plain DBAPIError when the connection was reset, raw
    # TimeoutError/ConnectionError) get 503 or 500 from `_unexpected_error`, but from
    # here rather than from the catch-all, which answers outside the middleware (no
    # request id header, no metrics).
    for driver_error in (DBAPIError, OSError):
        app.add_exception_handler(driver_error, _unexpected_error)
    app.add_exception_handler(Exception, _last_resort)
