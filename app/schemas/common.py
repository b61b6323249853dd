"""Shapes shared by every resource, and the constrained field types they use."""

from __future__ import annotations

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
    StringConstraints,
    model_validator,
)

T = TypeVar("T")


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it here keeps both back ends alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_bool(value: Any) -> Any:
    # Lax parsing would read `true` as 1; a price is a number or a numeric string.
    if isinstance(value, bool):
        raise ValueError("must be a number or a numeric string")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=255)]
CENT = Decimal("0.01")

Price = Annotated[
    Decimal,
    BeforeValidator(_not_bool),
    Field(ge=0, max_digits=10, decimal_places=2, examples=["9.99"]),
    AfterValidator(lambda value: value.quantize(CENT)),
]
# Always two places on the way out, whatever the back end hands back: "9.90", not "9.9".
PriceOut = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value.quantize(CENT)}", return_type=str, when_used="json"),
]


class BaseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True, str_strip_whitespace=False)


class PartialUpdate(BaseSchema):
    """A PATCH body: only the fields sent are applied; `null` only where a column allows it."""

    non_nullable: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        nulls = [
            name
            for name in self.non_nullable
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null")
        return self


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
