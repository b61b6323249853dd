from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from app.schemas.common import BaseSchema, PartialUpdate, Price, PriceOut, Text, TimestampMixin

Title = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[Text, Field(max_length=10_000)]
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


class ItemResponse(BaseSchema, TimestampMixin):
    id: int
    title: str
    description: str | None
    price: PriceOut = Field(examples=["9.99"])
    owner_id: int
