"""The outermost middleware: request id, security headers, request log and metrics.

One pure-ASGI layer does all four, so a request pays for one `send` wrapper and
one timing, not four (Starlette's `BaseHTTPMiddleware` would also cost a task
and a stream per request, and break context variables).

Request id: `X-Request-ID` from the client when it is a short safe token
(1-64 characters of letters, digits, `.`, `_`, `-`), a new random one otherwise.
It is returned in the response, kept in `request.state.request_id`, and bound
to every log line of the request through `app.core.logging.request_id_var`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.core.logging import request_id_var
from app.core.metrics import IN_FLIGHT, RequestMetrics, RouteTemplates
from app.core.network import ClientAddressResolver

access_logger = logging.getLogger("app.access")

_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
HSTS = b"max-age=63072000; includeSubDomains"


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.is_production:
        headers.append((b"strict-transport-security", HSTS))
    return headers


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _SAFE_REQUEST_ID.fullmatch(value) else None
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.access_log = settings.access_log
        self.metrics = RequestMetrics() if settings.metrics_enabled else None
        self.routes = RouteTemplates()
        self.client_address = ClientAddressResolver(settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        # Not reset afterwards: each request runs in a task of its own, and the
        # error handler outside this middleware still logs with the id.
        request_id_var.set(request_id)
        response_headers = [*self.headers, (b"x-request-id", request_id.encode())]
        status = 500
        started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), *response_headers]
            await send(message)

        start = time.perf_counter()
        if self.metrics is not None:
            IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_context)
        except asyncio.CancelledError:
            status = status if started else 499  # the client went away
            raise
        finally:
            if self.metrics is not None:
                IN_FLIGHT.dec()
            self._finish(scope, status, time.perf_counter() - start)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.routes(scope)
        if self.metrics is not None:
            self.metrics.record(scope["method"], route, status, seconds)
        if self.access_log and access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "client": self.client_address(scope),
                },
            )
