"""Query and path parameters shared by endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query

# Ids are 32-bit on PostgreSQL: a larger number is a 422, not a database error.
MAX_ID = 2**31 - 1
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


def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Rows per page")] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


Pagination = Annotated[PageParams, Depends(page_params)]
