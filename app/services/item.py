from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_

from app.db.session import SessionDep
from app.exceptions import NotFoundError
from app.models.item import Item
from app.models.user import User
from app.schemas.item import ItemCreate, ItemSort, ItemUpdate
from app.services.base import BaseService, Page

_SORT_COLUMNS = {"created_at": Item.created_at, "price": Item.price, "title": Item.title}


@dataclass(frozen=True, slots=True)
class ItemFilters:
    owner_id: int | None = None
    q: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.owner_id is not None:
            clauses.append(Item.owner_id == self.owner_id)
        if self.q:
            pattern = "%" + _escape_like(self.q) + "%"
            clauses.append(
                or_(
                    Item.title.ilike(pattern, escape="\\"),
                    Item.description.ilike(pattern, escape="\\"),
                )
            )
        if self.min_price is not None:
            clauses.append(Item.price >= self.min_price)
        if self.max_price is not None:
            clauses.append(Item.price <= self.max_price)
        return clauses


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def order_for(sort: ItemSort) -> tuple[Any, Any]:
    """The ORDER BY of a sort key; ties are broken by id in the same direction."""
    descending = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    if descending:
        return column.desc(), Item.id.desc()
    return column.asc(), Item.id.asc()


class ItemService(BaseService[Item, ItemCreate, ItemUpdate]):
    model = Item
    not_found_message = "Item not found"

    async def get_owned(self, item_id: int, *, by: User) -> Item:
        item = await self.get_by_id(item_id)
        if item.owner_id != by.id and not by.is_superuser:
            raise NotFoundError(self.not_found_message)  # never reveal other users' items
        return item

    async def create_for(self, data: ItemCreate, *, owner: User) -> Item:
        return await self.create(data, owner_id=owner.id)

    async def search(
        self, filters: ItemFilters, *, sort: ItemSort, page: int, page_size: int
    ) -> Page[Item]:
        return await self.get_paginated(
            page, page_size, where=filters.clauses(), order_by=order_for(sort)
        )


async def get_item_service(session: SessionDep) -> ItemService:
    return ItemService(session)
