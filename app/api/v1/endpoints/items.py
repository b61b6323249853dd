from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from app.api.params import CursorPagination, ItemId
from app.api.responses import AUTH_ERRORS, errors, link, links
from app.dependencies import CurrentUser, ItemAuthor, ItemServiceDep
from app.models.item import Item
from app.schemas.common import MessageResponse, PaginatedResponse
from app.schemas.item import ItemCreate, ItemQuery, ItemResponse, ItemUpdate
from app.services.base import Page

router = APIRouter(prefix="/items", tags=["items"])

_ITEM_ID = {"item_id": "$response.body#/id"}
ITEM_LINKS = {
    "ReadItem": link("read_item", "Read the item", parameters=_ITEM_ID),
    "UpdateItem": link("update_item", "Change the item", parameters=_ITEM_ID),
    "DeleteItem": link("delete_item", "Delete the item", parameters=_ITEM_ID),
}


@router.get("", response_model=PaginatedResponse[ItemResponse], responses=errors(422))
async def list_items(
    query: Annotated[ItemQuery, Query()], paging: CursorPagination, items: ItemServiceDep
) -> Page[Any]:
    """Browse items, with filters and sorting (ties broken by id); `cursor` for deep pages."""
    return await items.search(query, paging=paging)


@router.post(
    "",
    response_model=ItemResponse,
    status_code=status.HTTP_201_CREATED,
    responses=AUTH_ERRORS | errors(422) | links(201, **ITEM_LINKS),
)
async def create_item(data: ItemCreate, user: ItemAuthor, items: ItemServiceDep) -> Item:
    """Create an item owned by you."""
    return await items.create_for(data, owner=user)


@router.get("/{item_id:int}", response_model=ItemResponse, responses=errors(404))
async def read_item(item_id: ItemId, items: ItemServiceDep) -> Any:
    """One item."""
    return await items.read(item_id)


@router.patch(
    "/{item_id:int}",
    response_model=ItemResponse,
    responses=AUTH_ERRORS | errors(404) | links(200, **ITEM_LINKS),
)
async def update_item(
    item_id: ItemId, data: ItemUpdate, user: CurrentUser, items: ItemServiceDep
) -> Item:
    """Change an item you own (or any item, as a superuser)."""
    return await items.update(await items.get_owned(item_id, by=user), data)


@router.delete(
    "/{item_id:int}", response_model=MessageResponse, responses=AUTH_ERRORS | errors(404)
)
async def delete_item(item_id: ItemId, user: CurrentUser, items: ItemServiceDep) -> MessageResponse:
    """Delete an item you own (or any item, as a superuser)."""
    await items.delete(await items.get_owned(item_id, by=user))
    return MessageResponse(message="Item deleted")
