from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from app.schemas.common import Text
from app.schemas.user import PASSWORD_MAX_LENGTH, Email, Password

TokenString = Annotated[Text, Field(min_length=1, max_length=4096)]
LoginEmail = Annotated[Text, Field(min_length=1, max_length=320), AfterValidator(str.lower)]
LoginPassword = Annotated[Text, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class LoginRequest(BaseModel):
    """Credentials, as JSON or as the OAuth2 password form (`username` = e-mail)."""

    model_config = ConfigDict(extra="ignore")

    email: Annotated[LoginEmail, Field(validation_alias=AliasChoices("email", "username"))]
    password: LoginPassword


class LoginForm(BaseModel):
    """The OAuth2 password form: the same credentials, with the e-mail as `username`.

    Only documents the form in OpenAPI; the form is read into a LoginRequest.
    """

    username: Annotated[LoginEmail, Field(description="E-mail address")]
    password: LoginPassword


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(BaseModel):
    refresh_token: TokenString


class TokenRequest(BaseModel):
    """A token received by e-mail (verification)."""

    token: TokenString


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetConfirm(BaseModel):
    token: TokenString
    new_password: Password
