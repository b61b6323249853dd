from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select

from app.db.session import SessionDep
from app.exceptions import NotFoundError
from app.models.item import Item
from app.models.user import User
from app.schemas.item import ItemCreate, ItemQuery, ItemUpdate
from app.services.base import BaseService
from app.services.pagination import Listing, at_least, at_most, contains, equals

_ITEMS = Item.__table__
# Each sort has an index on (column, id), and (owner_id, column, id): see the model.
ITEM_LIST = Listing(
    _ITEMS,
    ItemQuery,
    filters={
        "owner_id": equals(_ITEMS.c.owner_id),
        "q": contains(_ITEMS.c.title, _ITEMS.c.description),
        "min_price": at_least(_ITEMS.c.price),
        "max_price": at_most(_ITEMS.c.price),
    },
)


# Statements a request runs every time are built once: building one (and its cache key)
# costs more CPU than running it.
_BY_ID = select(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))


class ItemService(BaseService[Item, ItemCreate, ItemUpdate]):
    model = Item
    not_found_message = "Item not found"
    listing = ITEM_LIST

    async def read(self, item_id: int) -> Mapping[str, Any]:
        """One item to show, as a plain row (`get_by_id` loads one to change)."""
        rows = await self.rows(_BY_ID, {"item_id": item_id})
        if not rows:
            raise NotFoundError(self.not_found_message)
        return rows[0]

    async def create_for(self, data: ItemCreate, *, owner: User) -> Item:
        return await self.create(data, owner_id=owner.id)


async def get_item_service(session: SessionDep) -> ItemService:
    return ItemService(session)
