"""Shapes shared by every resource, and the constrained field types they use."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

T = TypeVar("T")


# The characters `str.strip()` removes (every character for which `str.isspace()` is
# true), spelled out so the OpenAPI patterns below mean exactly what the code does.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS_CLASS = "".join(f"\\u{ord(char):04x}" for char in WHITESPACE)
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{_WS_CLASS}][^\u0000]*$"

# Ids are 32-bit on PostgreSQL: a larger number is a 422, not a database error.
MAX_ID = 2**31 - 1

CENT = Decimal("0.01")
MAX_PRICE = Decimal("99999999.99")  # Numeric(10, 2)
PRICE_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"
_PRICE_TEXT = re.compile(PRICE_PATTERN)
# The same shape with a minus sign: outside the documented pattern, but refused for
# being below zero (by `ge=0`, with the message a negative number gets), not for its shape.
_NEGATIVE_PRICE_TEXT = re.compile(rf"^-{PRICE_PATTERN[1:]}")
PRICE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": float(MAX_PRICE), "multipleOf": 0.01},
        {"type": "string", "pattern": PRICE_PATTERN},
    ],
    "examples": ["9.99"],
}


def _valid_text(value: str) -> str:
    # PostgreSQL cannot store NUL in text, and no database can store a lone surrogate
    # (JSON allows "\ud800"): refusing both here keeps the back ends alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def strip(value: str) -> str:
    return value.strip()


def strip_not_blank(value: str) -> str:
    """Stripped, and something must be left (documented by NOT_BLANK_PATTERN)."""
    value = value.strip()
    if not value:
        raise ValueError("must contain a character other than whitespace")
    return value


def _price(value: Any) -> Any:
    # Lax parsing would read `true` as 1 and accept "1e3" or " 1_0 "; a price is a JSON
    # number or a string matching PRICE_PATTERN, as the OpenAPI schema says.
    if isinstance(value, bool):
        raise ValueError("must be a number or a numeric string")
    if isinstance(value, str):
        if _PRICE_TEXT.fullmatch(value):
            return Decimal(value)
        if _NEGATIVE_PRICE_TEXT.fullmatch(value) and Decimal(value) < 0:
            return Decimal(value)  # `ge=0` refuses it: "greater than or equal to 0"
        raise ValueError(
            "must be a decimal with at most 8 digits and 2 decimal places, such as 9.99"
        )
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT) + 0  # `+ 0` turns -0.00 into 0.00


# Every string that reaches the database.
Text = Annotated[
    str, AfterValidator(_valid_text), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]
# Length limits go before a stripping validator (pydantic applies Annotated metadata
# in order), so they count the characters as sent, as the OpenAPI schema says.
ShortText = Annotated[Text, Field(max_length=255), AfterValidator(strip)]


# A short name people type and see (a tag's, a list's): stripped, never blank.
Name = Annotated[
    Text,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
    AfterValidator(strip_not_blank),
]
# Free text about a row.
Description = Annotated[Text, Field(max_length=10_000)]


RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
# Text searched for in a list (`?q=`).
SearchText = Annotated[Text, Field(max_length=200)]


Price = Annotated[
    Decimal,
    BeforeValidator(_price),
    Field(ge=0, le=MAX_PRICE, decimal_places=2),
    AfterValidator(_cents),
    WithJsonSchema(PRICE_SCHEMA, mode="validation"),
]


def price_text(value: Decimal) -> str:
    """A price as clients read it, two places whatever the back end hands back: "9.90"."""
    return f"{value.quantize(CENT)}"


_DATETIME = TypeAdapter(datetime)


def datetime_text(value: datetime) -> str:
    """A datetime as the JSON API writes it (pydantic's form): "2026-01-02T03:04:05Z"."""
    text: str = _DATETIME.dump_python(value, mode="json")
    return text


PriceOut = Annotated[Decimal, PlainSerializer(price_text, return_type=str, when_used="json")]


class BaseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=False)


def _document_partial_update(schema: dict[str, Any], model: type[Any]) -> None:
    """The OpenAPI side of PartialUpdate's rules: no `null` where refused, `dependentRequired`."""
    properties = schema.get("properties", {})
    for name in getattr(model, "non_nullable", ()):
        prop = properties.get(name, {})
        variants = [variant for variant in prop.get("anyOf", ()) if variant != {"type": "null"}]
        if variants:
            del prop["anyOf"]
            prop.update(variants[0] if len(variants) == 1 else {"anyOf": variants})
        if prop.get("default", ...) is None:
            del prop["default"]
    requires = getattr(model, "requires", {})
    if requires:
        schema["dependentRequired"] = {name: list(others) for name, others in requires.items()}


class PartialUpdate(BaseSchema):
    """A PATCH body: only the fields sent are applied.

    `non_nullable` fields may be left out but not set to `null`; `requires` maps a field
    to the fields that must come with it (a new password needs the current one).
    """

    model_config = ConfigDict(json_schema_extra=_document_partial_update)
    non_nullable: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[dict[str, tuple[str, ...]]] = {}

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        sent = self.model_fields_set
        nulls = [name for name in self.non_nullable if name in sent and getattr(self, name) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null")
        for name, others in self.requires.items():
            missing = [other for other in others if name in sent and other not in sent]
            if missing:
                raise ValueError(f"{', '.join(missing)} is required to change {name}")
        return self


class ListQuery(BaseSchema):
    """The filters and order of a list, read from the query string.

    Subclasses declare `sort`, a `Literal` of the sort names (`-` for descending) with
    the default order as its default, and a field per filter; the service's `Listing`
    (`app/services/pagination.py`) gives each filter its condition.
    """


class TimestampMixin(BaseModel):
    created_at: datetime
    updated_at: datetime


class PaginatedResponse(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    total_pages: int
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the next page (fast at any depth); null at the end.",
    )
    total_exact: bool = Field(
        default=True,
        description="False when `total` is an estimate (large results; `exact_total=true` counts).",
    )


class MessageResponse(BaseModel):
    message: str
    success: bool = True


class ErrorDetail(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str = Field(examples=["Item not found"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail
