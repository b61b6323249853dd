"""Pages of rows: by page number (OFFSET) or after a cursor (keyset), and a cheap total.

Keyset pagination reads the page after a signed cursor with `(key, id) < (value,
last_id)` (or `>`), which an index on `(key, id)` answers directly: page 50,000
costs what page 1 costs, while OFFSET walks and discards every row before it.

The total is exact whenever it is cheap to be exact, and flagged when it is not:
- a page that is not full tells the total by itself (no query at all);
- otherwise the matching rows are counted, but at most `EXACT_COUNT_LIMIT` of them;
- beyond that, PostgreSQL's planner estimate is reported with `total_exact=False`
  (and remembered for `ESTIMATE_TTL` seconds), unless the client asks for
  `exact_total`. SQLite has no estimates: its totals are always counted.

Filter values travel as bound parameters, so each statement is built once per
combination of filters, sort and kind (page, page after a cursor, count) and then
reused: building a statement and its cache key costs more CPU than running it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import KeyedColumnElement

from app.core.cursor import Cursor, InvalidCursorError, decode_cursor, encode_cursor
from app.db.explain import explain_rows
from app.db.fetch import fetch_all, fetch_value
from app.exceptions import ValidationError
from app.services.base import Page

EXACT_COUNT_LIMIT = 10_000
ESTIMATE_TTL = 10.0
_ESTIMATES_MAX = 1024
_estimates: dict[Hashable, tuple[float, int]] = {}
# One statement per source, filter shape, sort and kind: a few hundred at most.
_statements: dict[Hashable, Select[Any]] = {}


@dataclass(frozen=True, slots=True)
class Filter:
    """Conditions on the rows of a page, written with bound parameters.

    `shape` names which conditions apply (the statement cache's key: equal shapes
    must have equal `clauses`); `params` holds their values.
    """

    shape: Hashable = ()
    clauses: Sequence[ColumnElement[bool]] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = 20
    cursor: str | None = None
    exact_total: bool = False


@dataclass(frozen=True, slots=True)
class SortKey:
    """An ORDER BY on one column with `id` breaking ties in the same direction."""

    name: str  # as clients write it: "price", "-created_at"
    column: KeyedColumnElement[Any]
    id_column: KeyedColumnElement[Any]
    parse: Callable[[str], Any]  # a cursor's text back into a column value

    @property
    def descending(self) -> bool:
        return self.name.startswith("-")

    def order_by(self) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        if self.descending:
            return self.column.desc(), self.id_column.desc()
        return self.column.asc(), self.id_column.asc()

    def after(self) -> ColumnElement[bool]:
        """Rows that come after the `after_value`, `after_id` parameters in this order."""
        key = tuple_(self.column, self.id_column)
        bound = tuple_(
            bindparam("after_value", type_=self.column.type),
            bindparam("after_id", type_=self.id_column.type),
        )
        return key < bound if self.descending else key > bound


def _invalid_cursor(message: str) -> ValidationError:
    return ValidationError(
        "Invalid cursor", details={"errors": [{"field": "query.cursor", "message": message}]}
    )


def read_cursor(token: str, sort: SortKey) -> tuple[Cursor, Any]:
    """The cursor and its decoded sort value; a 422 for anything not issued for this sort."""
    try:
        cursor = decode_cursor(token)
    except InvalidCursorError as exc:
        raise _invalid_cursor(str(exc)) from exc
    if cursor.sort != sort.name:
        raise _invalid_cursor(f"cursor was issued for sort={cursor.sort}")
    if cursor.last_id < 1 or cursor.position < 0:
        raise _invalid_cursor("malformed cursor")
    try:
        return cursor, sort.parse(cursor.value)
    except (ValueError, ArithmeticError) as exc:
        raise _invalid_cursor("malformed cursor") from exc


async def paginate(
    session: AsyncSession,
    source: FromClause,
    *,
    where: Filter,
    sort: SortKey,
    request: PageRequest,
) -> Page[Mapping[str, Any]]:
    """One page of the rows of `source` that match `where`, in `sort` order."""
    size = request.page_size
    params = {**where.params, "limit": size + 1}
    if request.cursor is not None:
        cursor, value = read_cursor(request.cursor, sort)
        position, params["offset"] = cursor.position, 0
        params.update(after_value=value, after_id=cursor.last_id)
    else:
        position = params["offset"] = (request.page - 1) * size
    statement = page_statement(source, where, sort, after_cursor=request.cursor is not None)
    # Plain rows on the session's connection: lists are shown, not changed.
    connection = await session.connection()
    rows = await fetch_all(connection, statement, params)
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more:
        last = rows[-1]
        value = _text(last[sort.column.key])
        last_id = last[sort.id_column.key]
        next_cursor = encode_cursor(Cursor(sort.name, value, last_id, position + len(rows)))
    if not more and (rows or position == 0):
        total, exact = position + len(rows), True  # the last page tells the total
    else:
        total, exact = await count_rows(connection, source, where, exact=request.exact_total)
    return Page(
        items=rows,
        total=total,
        page=position // size + 1,
        page_size=size,
        next_cursor=next_cursor,
        total_exact=exact,
    )


def _cached(key: Hashable, build: Callable[[], Select[Any]]) -> Select[Any]:
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = build()
    return statement


def page_statement(
    source: FromClause, where: Filter, sort: SortKey, *, after_cursor: bool
) -> Select[Any]:
    """A page of `source` in `sort` order: `offset` and `limit` parameters, and with
    `after_cursor` the `after_value` and `after_id` ones of `SortKey.after`."""

    def build() -> Select[Any]:
        after = [sort.after()] if after_cursor else []
        return (
            select(source)
            .where(*where.clauses, *after)
            .order_by(*sort.order_by())
            .offset(bindparam("offset"))
            .limit(bindparam("limit"))
        )

    return _cached((source.description, where.shape, sort.name, after_cursor), build)


def _count_statement(source: FromClause, where: Filter, kind: str) -> Select[Any]:
    """`count`: all matching rows; `bounded`: at most EXACT_COUNT_LIMIT + 1 of them;
    `matching`: the rows themselves (for the planner's estimate)."""

    def build() -> Select[Any]:
        if kind == "count":
            return select(func.count()).select_from(source).where(*where.clauses)
        matching: Select[Any] = (
            select(literal_column("1")).select_from(source).where(*where.clauses)
        )
        if kind == "bounded":
            bounded = matching.limit(EXACT_COUNT_LIMIT + 1).subquery()
            return select(func.count()).select_from(bounded)
        return matching

    return _cached((source.description, where.shape, kind), build)


async def count_rows(
    connection: AsyncConnection, source: FromClause, where: Filter, *, exact: bool
) -> tuple[int, bool]:
    """(total, exact): counted up to EXACT_COUNT_LIMIT rows, estimated past it."""
    params = dict(where.params)
    if exact or connection.dialect.name != "postgresql":
        count = await fetch_value(connection, _count_statement(source, where, "count"), params)
        return int(count or 0), True
    estimate_key = (source.description, where.shape, *sorted(params.items()))
    cached = _estimates.get(estimate_key)
    if cached is not None and time.monotonic() - cached[0] < ESTIMATE_TTL:
        return cached[1], False
    bounded = _count_statement(source, where, "bounded")
    counted = int(await fetch_value(connection, bounded, params) or 0)
    if counted <= EXACT_COUNT_LIMIT:
        return counted, True
    matching = _count_statement(source, where, "matching")
    estimate = max(await explain_rows(connection, matching, params), counted)
    if len(_estimates) >= _ESTIMATES_MAX:
        _estimates.clear()
    _estimates[estimate_key] = (time.monotonic(), estimate)
    return estimate, False


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
