from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.sql.elements import KeyedColumnElement

from app.db.session import SessionDep
from app.exceptions import NotFoundError
from app.models.item import Item
from app.models.user import User
from app.schemas.item import ItemCreate, ItemSort, ItemUpdate
from app.services.base import BaseService, Page
from app.services.pagination import Filter, PageRequest, SortKey, paginate


@dataclass(frozen=True, slots=True)
class ItemFilters:
    owner_id: int | None = None
    q: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def where(self) -> Filter:
        """The conditions these filters set, with their values as parameters."""
        params: dict[str, Any] = {}
        if self.owner_id is not None:
            params["owner_id"] = self.owner_id
        if self.q:
            params["q"] = "%" + escape_like(self.q) + "%"
        if self.min_price is not None:
            params["min_price"] = self.min_price
        if self.max_price is not None:
            params["max_price"] = self.max_price
        shape = tuple(params)
        return Filter(shape, [_CONDITIONS[name] for name in shape], params)


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (with `escape="\\"`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value


def _parse_decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


_ITEMS = Item.__table__
_COLUMNS: dict[str, tuple[KeyedColumnElement[Any], Callable[[str], Any]]] = {
    "created_at": (_ITEMS.c.created_at, _parse_datetime),
    "price": (_ITEMS.c.price, _parse_decimal),
    "title": (_ITEMS.c.title, str),
}
# Each sort has an index on (column, id): see the models and migrations.
SORT_KEYS: dict[str, SortKey] = {
    f"{prefix}{name}": SortKey(f"{prefix}{name}", column, _ITEMS.c.id, parse)
    for name, (column, parse) in _COLUMNS.items()
    for prefix in ("", "-")
}


# Statements a request runs every time are built once: building one (and its cache key)
# costs more CPU than running it.
_BY_ID = select(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))
# The condition of each filter of `GET /items`, its value bound under the same name.
_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "owner_id": _ITEMS.c.owner_id == bindparam("owner_id"),
    "q": or_(
        _ITEMS.c.title.ilike(bindparam("q"), escape="\\"),
        _ITEMS.c.description.ilike(bindparam("q"), escape="\\"),
    ),
    "min_price": _ITEMS.c.price >= bindparam("min_price"),
    "max_price": _ITEMS.c.price <= bindparam("max_price"),
}


def order_for(sort: ItemSort) -> tuple[Any, Any]:
    """The ORDER BY of a sort key; ties are broken by id in the same direction."""
    return SORT_KEYS[sort].order_by()


class ItemService(BaseService[Item, ItemCreate, ItemUpdate]):
    model = Item
    not_found_message = "Item not found"

    async def read(self, item_id: int) -> Mapping[str, Any]:
        """One item to show, as a plain row (`get_by_id` loads one to change)."""
        rows = await self.rows(_BY_ID, {"item_id": item_id})
        if not rows:
            raise NotFoundError(self.not_found_message)
        return rows[0]

    async def get_owned(self, item_id: int, *, by: User) -> Item:
        item = await self.get_by_id(item_id)
        if item.owner_id != by.id and not by.is_superuser:
            raise NotFoundError(self.not_found_message)  # never reveal other users' items
        return item

    async def create_for(self, data: ItemCreate, *, owner: User) -> Item:
        return await self.create(data, owner_id=owner.id)

    async def search(
        self, filters: ItemFilters, *, sort: ItemSort, paging: PageRequest | None = None
    ) -> Page[Mapping[str, Any]]:
        """A page of items as plain rows (no ORM objects: lists are read, not changed)."""
        return await paginate(
            self.session,
            _ITEMS,
            where=filters.where(),
            sort=SORT_KEYS[sort],
            request=paging or PageRequest(),
        )


async def get_item_service(session: SessionDep) -> ItemService:
    return ItemService(session)
