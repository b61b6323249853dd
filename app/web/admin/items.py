"""Items in the console: search, filter by owner, edit, delete (after a confirmation).

Changes go through `ItemService` with the API's `ItemUpdate` schema, so the
validation messages are the API's; a superuser may change any item, as over the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api.params import ItemId
from app.dependencies import ItemServiceDep
from app.schemas.item import ItemQuery, ItemUpdate
from app.services.base import PageRequest
from app.web.admin.auth import ADMIN_PATH, AdminForm, CurrentAdmin, admin_router
from app.web.admin.params import PAGE_SIZE, OwnerQuery, PageQuery, SearchQuery
from app.web.forms import validate
from app.web.pages import render

router = admin_router()
FieldText = Annotated[str, Form(max_length=20_000)]


@router.get("/items", response_class=HTMLResponse)
async def list_items(
    request: Request,
    _: CurrentAdmin,
    items: ItemServiceDep,
    q: SearchQuery = "",
    owner_id: OwnerQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    """Items whose title or description contains the search text, newest first."""
    query = ItemQuery(owner_id=owner_id, q=q.strip() or None)
    found = await items.search(query, paging=PageRequest(page, PAGE_SIZE, exact_total=True))
    context = {"page": found, "q": q, "owner_id": owner_id, "nav": "items"}
    return render(request, "admin/items.html", context)


@router.get("/items/{item_id:int}", response_class=HTMLResponse)
async def edit_item_page(
    request: Request, item_id: ItemId, admin: CurrentAdmin, items: ItemServiceDep
) -> HTMLResponse:
    """An item's edit form."""
    item = await items.get_owned(item_id, by=admin)
    values = {"title": item.title, "description": item.description or "", "price": str(item.price)}
    return _form(
        request, item_id, item.owner_id, values, saved=request.query_params.get("saved") == "1"
    )


@router.post("/items/{item_id:int}", response_class=HTMLResponse)
async def edit_item(
    request: Request,
    item_id: ItemId,
    admin: AdminForm,
    items: ItemServiceDep,
    title: FieldText,
    price: FieldText,
    description: FieldText = "",
) -> Response:
    """Save an item: the API's validation, then `ItemService.update`."""
    item = await items.get_owned(item_id, by=admin)
    values = {"title": title, "description": description, "price": price}
    data, errors = validate(ItemUpdate, {**values, "description": description or None})
    if data is None:
        return _form(request, item_id, item.owner_id, values, errors=errors, status_code=422)
    await items.update(item, data)
    return RedirectResponse(f"{ADMIN_PATH}/items/{item_id}?saved=1", status_code=303)


@router.get("/items/{item_id:int}/delete", response_class=HTMLResponse)
async def confirm_delete_item(
    request: Request, item_id: ItemId, admin: CurrentAdmin, items: ItemServiceDep
) -> HTMLResponse:
    """The confirmation step before deleting an item."""
    item = await items.get_owned(item_id, by=admin)
    return render(
        request,
        "admin/confirm.html",
        {
            "heading": f"Delete the item “{item.title}”?",
            "body": f"Item {item.id} of user {item.owner_id} is deleted for good.",
            "action": f"{ADMIN_PATH}/items/{item.id}/delete",
            "cancel": f"{ADMIN_PATH}/items/{item.id}",
            "button": "Delete the item",
            "nav": "items",
        },
    )


@router.post("/items/{item_id:int}/delete")
async def delete_item(item_id: ItemId, admin: AdminForm, items: ItemServiceDep) -> Response:
    """Delete an item."""
    await items.delete(await items.get_owned(item_id, by=admin))
    return RedirectResponse(f"{ADMIN_PATH}/items?deleted={item_id}", status_code=303)


def _form(
    request: Request,
    item_id: int,
    owner_id: int,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "item_id": item_id,
        "owner_id": owner_id,
        "values": values,
        "errors": errors or {},
        "saved": saved,
        "nav": "items",
    }
    return render(request, "admin/item.html", context, status_code=status_code)
