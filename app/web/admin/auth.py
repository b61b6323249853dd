"""Signing in and out of the admin console, and who is signed in.

The console reads its own cookie only (never an `Authorization` header), and the
API reads bearer tokens only, so neither accepts the other's credentials. Every
post carries a CSRF token bound to the session (see `app/web/csrf.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.config import get_settings
from app.dependencies import AuthServiceDep
from app.exceptions import AppError, ForbiddenError
from app.models.admin_session import AdminSession
from app.models.user import User
from app.services.admin_session import (
    AdminSessionEnded,
    AdminSessionService,
    get_admin_session_service,
)
from app.web import limits
from app.web.csrf import (
    BrowserBinding,
    BrowserForm,
    CsrfError,
    CsrfField,
    bind_to,
    check_token,
    secure_cookies,
)
from app.web.pages import error_page, page_route, render, renders_errors_with

ADMIN_PATH = "/admin"
ADMIN_COOKIE = "admin_session"
LOGIN_PATH = f"{ADMIN_PATH}/login"

AdminSessionServiceDep = Annotated[AdminSessionService, Depends(get_admin_session_service)]


async def admin_error(request: Request, error: AppError) -> Response:
    """The console's errors: to the sign-in page when the session is gone, else a page."""
    if isinstance(error, AdminSessionEnded):
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        if ADMIN_COOKIE in request.cookies:
            forget_session(response)
        return response
    return await error_page(request, error)


def admin_router() -> APIRouter:
    """A router of console pages: errors as pages, a session that may write on GET."""
    return APIRouter(
        prefix=ADMIN_PATH,
        include_in_schema=False,
        route_class=page_route(admin_error, writes_on_read=True),
    )


async def current_session(
    request: Request, sessions: AdminSessionServiceDep
) -> tuple[AdminSession, User]:
    row, user = await sessions.resume(request.cookies.get(ADMIN_COOKIE))
    request.state.admin = user
    request.state.user_id = user.id  # in the request log, as for the API
    bind_to(request, row.token_hash)
    return row, user


async def current_admin(
    session: Annotated[tuple[AdminSession, User], Depends(current_session)],
) -> User:
    return session[1]


async def admin_form(
    request: Request, admin: Annotated[User, Depends(current_admin)], submitted: CsrfField = None
) -> User:
    """The signed-in superuser, for a post whose CSRF token matches their session."""
    check_token(request, submitted)
    return admin


CurrentAdmin = Annotated[User, Depends(current_admin)]
AdminForm = Annotated[User, Depends(admin_form)]


def remember_session(response: Response, value: str, *, max_age: int) -> None:
    response.set_cookie(
        ADMIN_COOKIE,
        value,
        max_age=max_age,
        path=ADMIN_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(),
    )


def forget_session(response: Response) -> None:
    response.delete_cookie(
        ADMIN_COOKIE, path=ADMIN_PATH, httponly=True, samesite="strict", secure=secure_cookies()
    )


async def login_failed(request: Request, error: AppError) -> Response:
    """Wrong credentials, too many tries, or not a superuser: the form or a refusal."""
    if isinstance(error, CsrfError):
        return await error_page(request, error)
    if isinstance(error, ForbiddenError):
        return render(request, "admin/refused.html", {"message": error.message}, status_code=403)
    status = 400 if error.status_code in (401, 422) else error.status_code
    return render(
        request,
        "admin/login.html",
        {"error": error.message, "email": getattr(request.state, "login_email", "")},
        status_code=status,
        headers={k: v for k, v in error.headers.items() if k.lower() == "retry-after"},
    )


router = admin_router()


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, _: BrowserBinding) -> HTMLResponse:
    """The console's sign-in form."""
    return render(request, "admin/login.html", {"error": None, "email": ""})


@router.post("/login")
@renders_errors_with(login_failed)
async def login(
    request: Request,
    sessions: AdminSessionServiceDep,
    _: BrowserForm,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Sign in: the API's credential check, then a console session in a cookie."""
    request.state.login_email = email
    await limits.enforce(request, login_email=email)
    secret = await sessions.sign_in(email, password)
    response = RedirectResponse(ADMIN_PATH, status_code=303)
    remember_session(response, secret, max_age=sessions_max_age())
    return response


@router.post("/logout")
async def logout(
    sessions: AdminSessionServiceDep,
    session: Annotated[tuple[AdminSession, User], Depends(current_session)],
    _: AdminForm,
) -> Response:
    """Sign out of this console session."""
    await sessions.sign_out(session[0])
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    forget_session(response)
    return response


@router.post("/logout-all")
async def logout_everywhere(admin: AdminForm, auth: AuthServiceDep) -> Response:
    """Sign out everywhere: every console session and every API token of this account."""
    await auth.logout_all(admin)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    forget_session(response)
    return response


def sessions_max_age() -> int:
    return get_settings().admin_session_max_hours * 3600
