"""Request body limits: 413 PAYLOAD_TOO_LARGE, decided while the body streams in.

A declared `Content-Length` over the limit is refused before the application
runs (no routing, no authentication, no database). A body without one
(`Transfer-Encoding: chunked`) is counted as it arrives, and reading stops with
a 413 at the first byte past the limit, so nothing larger is ever buffered.
Limits come from settings: `MAX_BODY_SIZE` everywhere, larger ones for named
paths (`MAX_IMPORT_SIZE` for the item import upload).

Why not FastAPI's own `max_body_size`: Starlette's limiter behind it checks the
length only once the endpoint starts reading, after the dependencies have run,
answers a plain-text 413 outside the error envelope when the endpoint does not
read the body, and takes per-route limits when routers are declared (at import),
not from the settings the application is created with.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.exceptions import PayloadTooLargeError, error_response


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing lets it through
    to the exception handlers, which answer it in the envelope like any other."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"Request body too large (limit: {limit} bytes)"


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default: int, per_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self._reject(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413:
                    # Stop reading the rest of an oversized upload: close the connection.
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, limit)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLargeError(too_large_message(limit))
        response = error_response(
            error.status_code, error.error_code, error.message, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
