from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import ValidationError as PydanticValidationError

from app.api.responses import AUTH_ERRORS, NO_CONTENT, errors, link, links
from app.dependencies import AuthServiceDep, CurrentUser
from app.exceptions import ValidationError, format_validation_errors
from app.schemas.auth import (
    LoginForm,
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
)
from app.schemas.common import MessageResponse

router = APIRouter(prefix="/auth", tags=["auth"])

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _credentials_schema() -> dict[str, Any]:
    """What login reads, as a form or as JSON: `password`, and the e-mail address as
    `email` or as `username` (OAuth2's name); with both, `email` counts and `username`
    is ignored."""
    fields = LoginForm.model_json_schema()["properties"]
    address, password = fields["username"], fields["password"]
    return {
        "title": "Credentials",
        "type": "object",
        "required": ["password"],
        "properties": {"password": password},
        "anyOf": [
            {"required": ["email"], "properties": {"email": address}},
            {
                "required": ["username"],
                "properties": {"username": address},
                "not": {"required": ["email"]},
            },
        ],
    }


# The login body is read by hand (form or JSON), so FastAPI cannot document it.
_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {"schema": _credentials_schema()}
            for media_type in (*_FORM_TYPES, "application/json")
        },
    }
}
_REFRESH_TOKEN = {"refresh_token": "$response.body#/refresh_token"}
# A new pair can be refreshed or revoked.
TOKEN_LINKS = links(
    200,
    RefreshTokens=link("refresh_tokens", "Spend the refresh token", body=_REFRESH_TOKEN),
    Logout=link("logout", "Revoke the session", body=_REFRESH_TOKEN),
)


async def login_credentials(request: Request) -> LoginRequest:
    """The credentials from an OAuth2 password form or a JSON body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_form = content_type in _FORM_TYPES
    raw: Any
    try:
        if is_form:
            async with request.form() as form:  # closes the temporary files of any file parts
                raw = dict(form)  # `username` is the e-mail (OAuth2)
        else:
            raw = await request.json()
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        problem = {"field": "body", "message": "Body is not a valid form or JSON document"}
        raise ValidationError("Malformed request body", details={"errors": [problem]}) from exc
    try:
        return LoginRequest.model_validate(raw)
    except PydanticValidationError as exc:
        problems = format_validation_errors(exc.errors())
        if is_form:  # name the fields as the client sent them
            for problem in problems:
                problem["field"] = "username" if problem["field"] == "email" else problem["field"]
        raise ValidationError("Request validation failed", details={"errors": problems}) from exc


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=errors(401, 422, 429) | TOKEN_LINKS,
)
async def login(
    credentials: Annotated[LoginRequest, Depends(login_credentials)], auth: AuthServiceDep
) -> TokenResponse:
    """Exchange e-mail and password for an access token and a refresh token."""
    return await auth.login(credentials.email, credentials.password)


@router.post("/refresh", response_model=TokenResponse, responses=errors(401, 422) | TOKEN_LINKS)
async def refresh_tokens(data: RefreshRequest, auth: AuthServiceDep) -> TokenResponse:
    """Spend a refresh token for a new pair; replaying a spent one revokes the session."""
    return await auth.refresh(data.refresh_token)


@router.post("/logout", **NO_CONTENT, responses=errors(401, 422))
async def logout(data: RefreshRequest, auth: AuthServiceDep) -> None:
    """Revoke the session (token family) this refresh token belongs to."""
    await auth.logout(data.refresh_token)


@router.post("/logout-all", **NO_CONTENT, responses=errors(401, 403))
async def logout_all(user: CurrentUser, auth: AuthServiceDep) -> None:
    """Revoke every session of the caller and every access token issued so far."""
    await auth.logout_all(user)


@router.post(
    "/verify-email/request",
    response_model=MessageResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=AUTH_ERRORS,
)
async def request_email_verification(user: CurrentUser, auth: AuthServiceDep) -> MessageResponse:
    """E-mail yourself a link (and token) that verifies your address."""
    return await auth.request_verification(user)


@router.post("/verify-email", response_model=MessageResponse, responses=errors(401, 422))
async def verify_email(data: TokenRequest, auth: AuthServiceDep) -> MessageResponse:
    """Mark your address verified with the token from the verification e-mail."""
    return await auth.verify_email(data.token)


@router.post(
    "/password-reset/request",
    response_model=MessageResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(422, 429),
)
async def request_password_reset(
    data: PasswordResetRequest, auth: AuthServiceDep
) -> MessageResponse:
    """E-mail a reset link; the answer is the same whether or not the address is known."""
    return await auth.request_password_reset(data.email)


@router.post("/password-reset", response_model=MessageResponse, responses=errors(401, 422, 429))
async def reset_password(data: PasswordResetConfirm, auth: AuthServiceDep) -> MessageResponse:
    """Set a new password with a reset token (works once); signs you out everywhere."""
    return await auth.reset_password(data.token, data.new_password)
