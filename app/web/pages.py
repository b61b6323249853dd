"""Rendering pages: one Jinja2 environment (autoescaping on), one base layout, the
headers every page carries, and errors shown as pages rather than JSON.

Every page is sent with a Content-Security-Policy that allows scripts, styles,
fonts and fetches from this origin only, and no inline script or style at all
(pages pass data to their scripts through `data-` attributes); forms may only
post here, and no site may frame a page. Pages are `no-store`: several show
tokens or personal data, and none is worth a stale copy. `Referrer-Policy:
no-referrer` comes with every response (see `app/middleware/context.py`), so a
token in a page's address never leaves in a `Referer` header.

Routes of the web routers use `PageRoute`: an `AppError` (or a malformed request)
raised by a dependency or an endpoint becomes the area's error page with the
error's status and message; the transaction has been rolled back by then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.config import get_settings
from app.db.session import WRITES_ON_READ
from app.exceptions import AppError
from app.web import assets

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
}

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name fails the test, not silently renders ""
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals.update(
    static=assets.static_url,
    swagger_ui=assets.SWAGGER_UI,
    redoc=assets.REDOC,
    htmx=assets.HTMX,
)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page from `template`, with the page headers and, where a form needs it, the
    request's CSRF token (`csrf_token`)."""
    settings = get_settings()
    values = {
        "request": request,
        "app_name": settings.app_name,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "admin": getattr(request.state, "admin", None),
        **(context or {}),
    }
    html = _environment.get_template(template).render(values)
    response = HTMLResponse(
        html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})}
    )
    for callback in getattr(request.state, "on_response", ()):
        callback(response)
    return response


def on_response(request: Request, callback: Callable[[Response], None]) -> None:
    """Apply `callback` to the page this request answers with (to set a cookie)."""
    if not hasattr(request.state, "on_response"):
        request.state.on_response = []
    request.state.on_response.append(callback)


ErrorView = Callable[[Request, AppError], Awaitable[Response]]


async def error_page(request: Request, error: AppError) -> Response:
    """The default: the error's status and message on a page of its own.

    401 becomes 400 here: a page has no `WWW-Authenticate` scheme to offer (areas
    with a sign-in redirect to it instead, see `admin/auth.py`).
    """
    status = 400 if error.status_code == 401 else error.status_code
    headers = {k: v for k, v in error.headers.items() if k.lower() == "retry-after"}
    return render(
        request,
        "error.html",
        {"status": status, "message": error.message},
        status_code=status,
        headers=headers,
    )


def request_error(exc: RequestValidationError) -> AppError:
    """A malformed form or query string, as an error a page can show."""
    fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
    message = "The request was incomplete or malformed"
    if fields:
        message += ": check " + ", ".join(f for f in fields if f)
    return AppError(message, status_code=422, error_code="VALIDATION_ERROR")


def page_route(on_error: ErrorView = error_page, *, writes_on_read: bool = False) -> type[APIRoute]:
    """A route class whose errors are pages, rendered by `on_error` (or by the
    endpoint's own `__page_error__`, see `renders_errors_with`). With `writes_on_read`,
    GET requests get a session that may write as well (see `app/db/session.py`)."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            view: ErrorView = getattr(self.endpoint, "__page_error__", on_error)

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except AppError as exc:
                    return await view(request, exc)
                except RequestValidationError as exc:
                    return await view(request, request_error(exc))

            return handle

    setattr(PageRoute, WRITES_ON_READ, writes_on_read)
    return PageRoute


def renders_errors_with(view: ErrorView) -> Callable[[Any], Any]:
    """Decorate an endpoint so its errors are shown by `view` (a form shown again)."""

    def mark(endpoint: Any) -> Any:
        endpoint.__page_error__ = view
        return endpoint

    return mark
