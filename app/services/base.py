"""CRUD written once. Services flush, never commit: the request's session does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.interfaces import ORMOption

from app.db.base import Base
from app.db.fetch import fetch_all
from app.exceptions import ConflictError, NotFoundError
from app.schemas.common import ListQuery

if TYPE_CHECKING:
    from app.models.user import User
    from app.services.pagination import Listing

ModelT = TypeVar("ModelT", bound=Base)
CreateT = TypeVar("CreateT", bound=BaseModel)
UpdateT = TypeVar("UpdateT", bound=BaseModel)
RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """One page of rows; validates into `PaginatedResponse[...]`."""

    items: Sequence[RowT]
    total: int
    page: int
    page_size: int
    next_cursor: str | None = None  # the page after this one, by keyset (None: last page)
    total_exact: bool = True  # False: `total` is an estimate (see services/pagination.py)

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page: by number, or the one after a cursor (see services/pagination.py)."""

    page: int = 1
    page_size: int = 20
    cursor: str | None = None
    exact_total: bool = False


class BaseService(Generic[ModelT, CreateT, UpdateT]):
    model: ClassVar[type[Any]]
    # What the resource's lists sort and filter by (services/pagination.py).
    listing: ClassVar[Listing]
    # The column naming a row's owner, for resources that users own.
    owner_key: ClassVar[str] = "owner_id"
    # With a unique key (a name unique per owner), what a clash answers: 409, not 500.
    conflict_message: ClassVar[str | None] = None
    not_found_message: ClassVar[str] = "Not found"
    # Options applied to every load by id or list, e.g. raiseload() of big collections.
    load_options: ClassVar[tuple[ORMOption, ...]] = ()

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_id(self, obj_id: int) -> ModelT:
        obj: ModelT | None = await self.session.get(self.model, obj_id, options=self.load_options)
        if obj is None:
            raise NotFoundError(self.not_found_message)
        return obj

    async def get_owned(self, obj_id: int, *, by: User) -> ModelT:
        """The row, if `by` owns it or is a superuser; anyone else gets 404, not 403,
        so that other users' rows cannot even be found to exist."""
        obj = await self.get_by_id(obj_id)
        if getattr(obj, self.owner_key) != by.id and not by.is_superuser:
            raise NotFoundError(self.not_found_message)
        return obj

    async def get_all(self, *, offset: int = 0, limit: int = 100) -> Sequence[ModelT]:
        query = self._select().order_by(self.model.id).offset(offset).limit(limit)
        return (await self.session.scalars(query)).all()

    async def search(
        self, query: ListQuery, *, paging: PageRequest | None = None, **fixed: Any
    ) -> Page[Mapping[str, Any]]:
        """A page of the rows that match `query` and the `fixed` filters the caller sets.

        Plain rows, not ORM objects: lists are read, not changed.
        """
        return await self.listing.page(self.session, query, paging or PageRequest(), fixed)

    async def search_owned(
        self, query: ListQuery, *, by: User, paging: PageRequest | None = None
    ) -> Page[Mapping[str, Any]]:
        """A page of `by`'s own rows that match `query` (superusers too see only theirs)."""
        return await self.search(query, paging=paging, **{self.owner_key: by.id})

    async def get_paginated(
        self,
        page: int = 1,
        page_size: int = 20,
        *,
        where: Sequence[ColumnElement[bool]] = (),
        order_by: Sequence[Any] = (),
    ) -> Page[ModelT]:
        """ORM objects by page number, for callers that build their own conditions.

        The API's lists go through `search` (declared sorts and filters, cursors,
        cheap totals); this stays for code that wants loaded objects.
        """
        query = self._select().where(*where)
        total = await self.session.scalar(
            select(func.count()).select_from(self.model).where(*where)
        )
        rows = await self.session.scalars(
            query.order_by(*(order_by or (self.model.id,)))
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        return Page(items=rows.all(), total=total or 0, page=page, page_size=page_size)

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(self.model)) or 0)

    async def create(self, data: CreateT, **extra: Any) -> ModelT:
        obj: ModelT = self.model(**data.model_dump(), **extra)
        self.session.add(obj)
        await self.flush()
        return obj

    async def update(self, obj: ModelT, data: UpdateT | dict[str, Any]) -> ModelT:
        changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
        for name, value in changes.items():
            setattr(obj, name, value)
        await self.flush()
        return obj

    async def flush(self) -> None:
        """Flush, a unique key's clash becoming `ConflictError` where one is declared."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            if self.conflict_message is None:
                raise
            raise ConflictError(self.conflict_message) from exc

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)
        await self.session.flush()

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any] | None = None
    ) -> Sequence[Mapping[str, Any]]:
        """Plain rows, read on the session's connection: no ORM objects, no identity map.

        For what a request only displays (lists, pages): several times cheaper per
        row than loading ORM instances, and run on the driver's connection where
        SQLAlchemy would add nothing (see `app/db/fetch.py`). Pending ORM changes are
        not flushed first.
        """
        return await fetch_all(await self.session.connection(), statement, params)

    def _select(self) -> Select[ModelT]:
        return select(self.model).options(*self.load_options)
