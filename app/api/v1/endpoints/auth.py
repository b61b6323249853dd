from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import ValidationError as PydanticValidationError

from app.api.responses import AUTH_ERRORS, errors
from app.dependencies import AuthServiceDep, CurrentUser
from app.exceptions import ValidationError, format_validation_errors
from app.schemas.auth import (
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
_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "E-mail address"},
                        "password": {"type": "string"},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/LoginRequest"}},
        },
    }
}


async def login_credentials(request: Request) -> LoginRequest:
    """The credentials from an OAuth2 password form or a JSON body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: Any
    try:
        if content_type in _FORM_TYPES:
            raw = dict(await request.form())  # `username` is the e-mail (OAuth2)
        else:
            raw = await request.json()
    except ValueError as exc:
        errors = [{"field": "body", "message": "Body is not valid JSON or form data"}]
        raise ValidationError("Malformed request body", details={"errors": errors}) from exc
    try:
        return LoginRequest.model_validate(raw)
    except PydanticValidationError as exc:
        details = {"errors": format_validation_errors(exc.errors())}
        raise ValidationError("Request validation failed", details=details) from exc


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=errors(401, 422, 429),
)
async def login(
    credentials: Annotated[LoginRequest, Depends(login_credentials)], auth: AuthServiceDep
) -> TokenResponse:
    """Exchange e-mail and password for an access token and a refresh token."""
    return await auth.login(credentials.email, credentials.password)


@router.post("/refresh", response_model=TokenResponse, responses=errors(401, 422))
async def refresh_tokens(data: RefreshRequest, auth: AuthServiceDep) -> TokenResponse:
    """Spend a refresh token for a new pair; replaying a spent one revokes the session."""
    return await auth.refresh(data.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 422))
async def logout(data: RefreshRequest, auth: AuthServiceDep) -> None:
    """Revoke the session (token family) this refresh token belongs to."""
    await auth.logout(data.refresh_token)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403))
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
