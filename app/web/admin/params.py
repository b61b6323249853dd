"""Query parameters the console's lists share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.params import MAX_PAGE
from app.schemas.common import MAX_ID, SearchText

PAGE_SIZE = 25
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
OwnerQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# The API's own search text, so that the lists' query models accept what arrives.
SearchQuery = Annotated[SearchText, Query()]
