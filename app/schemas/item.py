from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from app.schemas.common import (
    NOT_BLANK_PATTERN,
    BaseSchema,
    Description,
    ListQuery,
    PartialUpdate,
    Price,
    PriceOut,
    RowId,
    SearchText,
    Text,
    TimestampMixin,
    strip_not_blank,
)

Title = Annotated[
    Text,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
    AfterValidator(strip_not_blank),
]
ItemSort = Literal["created_at", "-created_at", "price", "-price", "title", "-title"]


class ItemCreate(BaseSchema):
    """A new item; it is owned by the caller (an `owner_id` in the body is ignored)."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    description: Description | None = None
    price: Price


class ItemUpdate(PartialUpdate):
    model_config = ConfigDict(extra="ignore")
    non_nullable = ("title", "price")

    title: Title | None = None
    description: Description | None = None
    price: Price | None = None


class ItemQuery(ListQuery):
    owner_id: RowId | None = None
    q: SearchText | None = Field(None, description="Text in title or description")
    min_price: Price | None = None
    max_price: Price | None = None
    sort: ItemSort = "-created_at"


class ItemResponse(BaseSchema, TimestampMixin):
    id: int
    title: str
    description: str | None
    price: PriceOut = Field(examples=["9.99"])
    owner_id: int
