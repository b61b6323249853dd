"""Query and path parameters shared by endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query

from app.core.cursor import MAX_CURSOR_LENGTH
from app.schemas.common import MAX_ID
from app.services.base import PageRequest

MAX_PAGE = 10_000_000


def IdPath(description: str) -> object:
    return Path(ge=1, le=MAX_ID, description=description)


# Routes spell id segments with Starlette's int convertor (`/{item_id:int}`): a segment
# that is not a number names no item (404), and never shadows a sibling route such
# as `POST /items/import`, whose other methods must answer 405, not a 422 for a bad id.
UserId = Annotated[int, IdPath("User id")]
ItemId = Annotated[int, IdPath("Item id")]


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    page_size: int


PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Rows per page")]


async def page_params(page: PageNumber = 1, page_size: PageSize = 20) -> PageParams:
    return PageParams(page=page, page_size=page_size)


async def cursor_page_params(
    page: PageNumber = 1,
    page_size: PageSize = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="`next_cursor` of the previous page: as fast 10,000 rows deep as on "
            "page 1. Takes the place of `page`.",
        ),
    ] = None,
    exact_total: Annotated[
        bool, Query(description="Count `total` exactly even when that is slow (large results)")
    ] = False,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size, cursor=cursor, exact_total=exact_total)


Pagination = Annotated[PageParams, Depends(page_params)]
CursorPagination = Annotated[PageRequest, Depends(cursor_page_params)]
