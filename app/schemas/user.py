from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import permutations
from typing import Annotated, Any, ClassVar, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, ConfigDict, Field, StrictBool

from app.schemas.common import (
    BaseSchema,
    ListQuery,
    PartialUpdate,
    SearchText,
    ShortText,
    Text,
    TimestampMixin,
)
from app.schemas.item import ItemResponse

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


# The rules below as an OpenAPI pattern: one of the three classes, then another, then
# the third, in any of the six orders. (Lookaheads would say it shorter, but
# generators such as Hypothesis write positive lookaheads out as text.) ASCII classes
# on both sides: Python's `\d` would also take other scripts' digits.
_ANY = r"[^\u0000]*"
PASSWORD_PATTERN = (
    f"^{_ANY}(?:"
    + "|".join(_ANY.join(order) for order in permutations(("[A-Z]", "[a-z]", "[0-9]")))
    + f"){_ANY}$"
)


def _check_password_rules(value: str) -> str:
    problems = []
    if not re.search(r"[A-Z]", value):
        problems.append("an upper-case letter")
    if not re.search(r"[a-z]", value):
        problems.append("a lower-case letter")
    if not re.search(r"[0-9]", value):
        problems.append("a digit")
    if problems:
        raise ValueError("password must contain " + ", ".join(problems))
    return value


def _case_insensitive(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" for char in word)


# What `_validate_email` accepts, as an OpenAPI pattern (`format: email` alone admits
# quoted local parts, IP literals, dotless or reserved domains, which are refused):
# a local part of 1-64 ASCII "atext" characters and dots, with no dot first, last or
# twice in a row; domain labels of 1-63 letters, digits and inner hyphens, never with
# `--` in 3rd-4th place (IDNA's mark); a last label ending in a letter; no
# special-use domain (`.test`, `.local`, ...). Only negative lookaheads: generators
# (Hypothesis) write positive ones out as text.
_LOCAL = r"(?!\.)(?![^@]*\.\.)(?![^@]*\.@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_LABEL = r"(?![A-Za-z0-9]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LAST_LABEL = r"(?![A-Za-z0-9]{2}--)(?:[A-Za-z0-9][A-Za-z0-9-]{0,61})?[A-Za-z]"
_RESERVED = "|".join(_case_insensitive(name) for name in SPECIAL_USE_DOMAIN_NAMES)
EMAIL_PATTERN = rf"^(?![\s\S]*[.@](?:{_RESERVED})$){_LOCAL}@(?:{_LABEL}\.)+{_LAST_LABEL}$"
EMAIL_MAX_LENGTH = 254


def _validate_email(value: str) -> str:
    """An ASCII address, lower-cased. Internationalised addresses are not supported:
    their Unicode and `xn--` spellings would be two accounts, and mail servers
    disagree on SMTPUTF8."""
    if not value.isascii():
        raise ValueError("value is not a valid email address: only ASCII addresses are supported")
    try:
        address = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    if any(label.startswith("xn--") for label in address.ascii_domain.lower().split(".")):
        raise ValueError(
            "value is not a valid email address: internationalised domains are not supported"
        )
    return f"{address.ascii_email}".lower()


# E-mail addresses are unique regardless of case: always stored in lower case.
Email = Annotated[
    Text,
    Field(
        max_length=EMAIL_MAX_LENGTH, json_schema_extra={"format": "email", "pattern": EMAIL_PATTERN}
    ),
    AfterValidator(_validate_email),
]
Bio = Annotated[Text, Field(max_length=5000)]


Password = Annotated[
    Text,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        json_schema_extra={"pattern": PASSWORD_PATTERN},
    ),
    AfterValidator(_check_password_rules),
]


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
    non_nullable = ("password", "current_password")
    requires: ClassVar[dict[str, tuple[str, ...]]] = {"password": ("current_password",)}

    full_name: ShortText | None = None
    bio: Bio | None = None
    password: Password | None = None
    current_password: Annotated[Text, Field(max_length=PASSWORD_MAX_LENGTH)] | None = None


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


UserSort = Literal["id", "-id", "email", "-email"]


class UserQuery(ListQuery):
    q: SearchText | None = Field(None, description="Text in the e-mail address or full name")
    is_active: bool | None = None
    is_superuser: bool | None = None
    sort: UserSort = "id"


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
