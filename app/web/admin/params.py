"""Query parameters the console's lists share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.params import MAX_ID, MAX_PAGE

PAGE_SIZE = 25
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
OwnerQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
SearchQuery = Annotated[str, Query(max_length=200)]
