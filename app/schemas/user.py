from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, EmailStr, Field, StrictBool, model_validator

from app.schemas.common import BaseSchema, PartialUpdate, ShortText, Text, TimestampMixin
from app.schemas.item import ItemResponse

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def _check_password_rules(value: str) -> str:
    problems = []
    if not re.search(r"[A-Z]", value):
        problems.append("an upper-case letter")
    if not re.search(r"[a-z]", value):
        problems.append("a lower-case letter")
    if not re.search(r"\d", value):
        problems.append("a digit")
    if problems:
        raise ValueError("password must contain " + ", ".join(problems))
    return value


def _normalise_email(value: str) -> str:
    return value.lower()


Password = Annotated[
    Text,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_check_password_rules),
]
Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_normalise_email)]
Bio = Annotated[Text, Field(max_length=5000)]


class UserCreate(BaseSchema):
    """Registration. Unknown fields (`is_superuser`, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    email: Email
    password: Password
    full_name: ShortText | None = None
    bio: Bio | None = None


class UserUpdate(PartialUpdate):
    """What users change about themselves. A new password needs the current one."""

    model_config = ConfigDict(extra="ignore")
    non_nullable = ("password",)

    full_name: ShortText | None = None
    bio: Bio | None = None
    password: Password | None = None
    current_password: Annotated[Text, Field(max_length=PASSWORD_MAX_LENGTH)] | None = None

    @model_validator(mode="after")
    def _password_needs_current(self) -> UserUpdate:
        if self.password is not None and self.current_password is None:
            raise ValueError("current_password is required to change the password")
        return self


class UserAdminUpdate(PartialUpdate):
    """What a superuser may change about any user. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
    non_nullable = ("email", "password", "is_active", "is_superuser", "is_verified")

    email: Email | None = None
    full_name: ShortText | None = None
    bio: Bio | None = None
    password: Password | None = None
    is_active: StrictBool | None = None
    is_superuser: StrictBool | None = None
    is_verified: StrictBool | None = None


class UserResponse(BaseSchema, TimestampMixin):
    id: int
    email: str
    full_name: str | None
    bio: str | None
    is_active: bool
    is_superuser: bool
    is_verified: bool


class UserWithItems(UserResponse):
    items: list[ItemResponse] = Field(description="The user's most recent items, at most 100.")


def profile_with_items(user: object, items: Sequence[object]) -> dict[str, Any]:
    """What validates into `UserWithItems`: the user's fields and the given item rows."""
    profile = {name: getattr(user, name) for name in UserResponse.model_fields}
    profile["items"] = items
    return profile
