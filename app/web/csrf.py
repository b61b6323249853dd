"""Cross-site request forgery protection for every form that changes something.

A form carries `csrf_token`, an HMAC (keyed with the signing key) of what binds it
to this browser:
- in the admin console, the signed-in session (the hash of its cookie value), so a
  token is worth nothing outside that session;
- on pages without a session (account pages, the console's sign-in), a random
  value in an `HttpOnly`, `SameSite=Strict` cookie set when the form is shown.

A post is refused with 403 (and nothing done) when the token is missing or does
not match, or when the browser says the request came from another site
(`Sec-Fetch-Site: cross-site` or `same-site`). Cookies are `SameSite=Strict` as
well, so another site's form arrives without them in the first place.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Annotated

from fastapi import Depends, Form, Request, Response

from app.config import get_settings
from app.exceptions import ForbiddenError
from app.web.pages import on_response

CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")
_SAME_ORIGIN = ("same-origin", "none")
REFUSED = "This form has expired or did not come from this site; reload the page and try again."


class CsrfError(ForbiddenError):
    default_message = REFUSED


def csrf_token(binding: str) -> str:
    key = get_settings().signing_key.encode()
    return hmac.new(key, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def secure_cookies() -> bool:
    """Cookies are `Secure` outside development (which may run on plain http://)."""
    return get_settings().environment != "development"


def bind_to(request: Request, binding: str) -> None:
    """Give this request's forms a token bound to `binding`."""
    request.state.csrf_binding = binding
    request.state.csrf_token = csrf_token(binding)


async def browser_binding(request: Request) -> None:
    """Dependency of pages with a form but no session: bind it to the CSRF cookie,
    set one first if the browser has none."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if not _COOKIE_VALUE.fullmatch(value):
        value = secrets.token_urlsafe(32)

        def set_cookie(response: Response) -> None:
            response.set_cookie(
                CSRF_COOKIE,
                value,
                httponly=True,
                samesite="strict",
                secure=secure_cookies(),
                path="/",
            )

        on_response(request, set_cookie)
    bind_to(request, value)


def check_origin(request: Request) -> None:
    """Refuse a request the browser marks as sent by another site."""
    if request.headers.get("sec-fetch-site", "same-origin") not in _SAME_ORIGIN:
        raise CsrfError()


def check_token(request: Request, submitted: str | None) -> None:
    """Refuse a form whose token does not match this request's binding."""
    check_origin(request)
    binding: str | None = getattr(request.state, "csrf_binding", None)
    if not submitted or binding is None:
        raise CsrfError()
    if not hmac.compare_digest(submitted.encode(), csrf_token(binding).encode()):
        raise CsrfError()


CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD, max_length=128)]


async def verified_browser_form(
    request: Request,
    _: Annotated[None, Depends(browser_binding)],
    submitted: CsrfField = None,
) -> None:
    """Dependency of a form post without a session: its token matches the cookie's."""
    if CSRF_COOKIE not in request.cookies:
        raise CsrfError()
    check_token(request, submitted)


BrowserForm = Annotated[None, Depends(verified_browser_form)]
BrowserBinding = Annotated[None, Depends(browser_binding)]
