"""The pages e-mail links open: e-mail verification and password reset.

Both run the API's own service code (`AuthService.verify_email`, `reset_password`)
so the rules and messages are the same. Opening a link changes nothing: the page
checks the token and shows a form that posts it back (with a CSRF token); the
result page that answers the post holds no token, and is not a redirect. With
JavaScript, the verification form submits itself and the token is taken out of
the address bar. Paths come from `VERIFY_EMAIL_PATH` and `RESET_PASSWORD_PATH`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.config import Settings
from app.dependencies import AuthServiceDep
from app.exceptions import AppError, UnauthorizedError
from app.schemas.auth import PasswordResetConfirm
from app.schemas.user import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from app.services.auth import RESET_TOKEN_SPENT
from app.web import limits
from app.web.csrf import BrowserBinding, BrowserForm
from app.web.forms import validate
from app.web.pages import error_page, page_route, render

MAX_TOKEN_LENGTH = 4096
# Longer fields are not read: no password rule allows them (a bounded cost per post).
MAX_FIELD_LENGTH = 1024
PASSWORD_RULES = (
    f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, with at least one "
    "upper-case letter, one lower-case letter and one digit."
)
MISMATCH = "The two passwords do not match."

TokenQuery = Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)]
TokenField = Annotated[str, Form(min_length=1, max_length=MAX_TOKEN_LENGTH)]
PasswordField = Annotated[str, Form(max_length=MAX_FIELD_LENGTH)]

# What a person is told for each reason a token is refused (the service's message follows).
_TOKEN_PROBLEMS = {
    "Token has expired": "This link has expired",
    RESET_TOKEN_SPENT: "This link has already been used",
}


async def link_problem(request: Request, error: AppError) -> Response:
    """A token the service refused: what happened and what to do, and no token."""
    if not isinstance(error, UnauthorizedError):
        return await error_page(request, error)
    heading = _TOKEN_PROBLEMS.get(error.message, "This link is not valid")
    kind = getattr(request.state, "link_kind", "verify")
    return render(
        request,
        "account/link_problem.html",
        {"heading": heading, "message": error.message, "kind": kind},
        status_code=400,
    )


def build_router(settings: Settings) -> APIRouter:
    """The account pages at the configured paths."""
    router = APIRouter(include_in_schema=False, route_class=page_route(link_problem))
    verify_path, reset_path = settings.verify_email_path, settings.reset_password_path

    @router.get(verify_path, response_class=HTMLResponse)
    async def verify_email_page(
        request: Request, auth: AuthServiceDep, _: BrowserBinding, token: TokenQuery = None
    ) -> HTMLResponse:
        """The verification link: a button that confirms the address."""
        request.state.link_kind = "verify"
        user = await auth.verification_user(_present(token))
        return render(
            request,
            "account/verify.html",
            {"token": token, "already": user.is_verified, "action": verify_path},
        )

    @router.post(verify_path, response_class=HTMLResponse)
    async def verify_email(
        request: Request, auth: AuthServiceDep, _: BrowserForm, token: TokenField
    ) -> HTMLResponse:
        """Confirm the address: the API's verification, shown as a page."""
        request.state.link_kind = "verify"
        await limits.enforce(request)
        result = await auth.verify_email(token)
        return render(request, "account/done.html", {"heading": result.message, "kind": "verify"})

    @router.get(reset_path, response_class=HTMLResponse)
    async def reset_password_page(
        request: Request, auth: AuthServiceDep, _: BrowserBinding, token: TokenQuery = None
    ) -> HTMLResponse:
        """The reset link: a form for the new password."""
        request.state.link_kind = "reset"
        await auth.check_reset_token(_present(token))
        return _reset_form(request, token or "", reset_path)

    @router.post(reset_path, response_class=HTMLResponse)
    async def reset_password(
        request: Request,
        auth: AuthServiceDep,
        _: BrowserForm,
        token: TokenField,
        password: PasswordField,
        password_confirm: PasswordField,
    ) -> HTMLResponse:
        """Set the new password: the API's reset, shown as a page."""
        request.state.link_kind = "reset"
        await limits.enforce(request)
        data, errors = validate(PasswordResetConfirm, {"token": token, "new_password": password})
        if password != password_confirm:
            errors.setdefault("password_confirm", MISMATCH)
        if data is None or errors:
            errors = {("password" if k == "new_password" else k): v for k, v in errors.items()}
            return _reset_form(request, token, reset_path, errors=errors, status_code=422)
        result = await auth.reset_password(data.token, data.new_password)
        return render(request, "account/done.html", {"heading": result.message, "kind": "reset"})

    return router


def _present(token: str | None) -> str:
    if not token:
        raise UnauthorizedError("The link has no token: open the whole link from the e-mail")
    return token


def _reset_form(
    request: Request,
    token: str,
    action: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "account/reset.html",
        {"token": token, "action": action, "errors": errors or {}, "rules": PASSWORD_RULES},
        status_code=status_code,
    )
