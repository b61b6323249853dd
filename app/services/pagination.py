"""Lists: what a resource sorts and filters by, declared once; pages by number or cursor.

A resource declares its list as a `Listing`: the table, the query model its
endpoint reads (its `sort` field is a `Literal` of the sort names, `-` for
descending; its other fields are filters), and the condition of each filter:

    ITEM_LIST = Listing(
        Item.__table__,
        ItemQuery,
        filters={"owner_id": equals(_ITEMS.c.owner_id), "q": contains(_ITEMS.c.title)},
    )

Each sort orders by its column with `id` breaking ties in the same direction (give
it an index on `(column, id)`); its cursor values are read back by a parser derived
from the column's type (or given in `parsers`). Filters a caller sets itself (the
owner, on a list of the caller's own rows) are declared like the others and passed
to `Listing.page`; a query model may not name a filter that has no condition (a
`TypeError` at import).

Keyset pagination reads the page after a signed cursor with `(key, id) < (value,
last_id)` (or `>`), which an index on `(key, id)` answers directly: page 50,000
costs what page 1 costs, while OFFSET walks and discards every row before it.

The total comes from `app/services/totals.py`: exact when cheap, flagged when estimated.

Filter values travel as bound parameters, so each statement is built once per
combination of filters, sort and kind (page, page after a cursor, count) and then
reused: building a statement and its cache key costs more CPU than running it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Select,
    bindparam,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import TypeDecorator

from app.core.cursor import (
    CURSOR_VALUE_PARSERS,
    Cursor,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
    value_text,
)
from app.db.fetch import fetch_all
from app.exceptions import ValidationError
from app.services.base import Page, PageRequest
from app.services.totals import Filter, count_rows

# One statement per listing, filter shape, sort and kind: a few hundred at most.
_statements: dict[Hashable, Select[Any]] = {}

Column = KeyedColumnElement[Any]
# The parameters of every page statement, besides the filters'.
_PAGE_PARAMETERS = frozenset({"offset", "limit", "after_value", "after_id"})


# --- declaring a list: filters, sorts, parsers of cursor values


def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Condition:
    """A filter: its SQL condition, written around the parameter that carries its value.

    `prepare` turns the value the client sent into the parameter's (escaping, say).
    """

    build: Callable[[BindParameter[Any]], ColumnElement[bool]]
    prepare: Callable[[Any], Any] = _unchanged


def equals(column: Column) -> Condition:
    return Condition(lambda value: column == value)


def at_least(column: Column) -> Condition:
    return Condition(lambda value: column >= value)


def at_most(column: Column) -> Condition:
    return Condition(lambda value: column <= value)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(*columns: Column) -> Condition:
    """The text, case-insensitively, in any of `columns` (`%` and `_` match themselves)."""
    return Condition(
        lambda value: or_(*(column.ilike(value, escape="\\") for column in columns)),
        lambda text: f"%{escape_like(text)}%",
    )


def parser_for(column: Column) -> Callable[[str], Any]:
    """How a cursor's text turns back into a value of `column` (by the column's type)."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):  # UTCDateTime: a DateTime underneath
        column_type = column_type.impl_instance
    try:
        return CURSOR_VALUE_PARSERS[column_type.python_type]
    except (KeyError, NotImplementedError):
        raise TypeError(f"no cursor parser for {column}: declare one in `parsers`") from None


@dataclass(frozen=True, slots=True)
class SortKey:
    """An ORDER BY on one column with `id` breaking ties in the same direction."""

    name: str  # as clients write it: "price", "-created_at"
    column: Column
    id_column: Column
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


class Listing:
    """What a resource's lists sort and filter by, declared once (see the module docstring).

    `query` is the model the list endpoint reads from the query string: its `sort`
    field a `Literal` of the sort names (its default the default order), its other
    fields filters, each of which needs a condition in `filters`. `columns` are the
    columns a page holds (all of the table's by default; `id` and the sort columns
    are always added).
    """

    def __init__(
        self,
        table: FromClause,
        query: type[BaseModel],
        *,
        filters: Mapping[str, Condition] | None = None,
        parsers: Mapping[str, Callable[[str], Any]] | None = None,
        columns: Iterable[Column] | None = None,
    ) -> None:
        self.source: FromClause = table
        self.columns = tuple(table.c if columns is None else columns)
        self.conditions = dict(filters or {})
        self.query_filters = tuple(name for name in query.model_fields if name != "sort")
        missing = set(self.query_filters) - set(self.conditions)
        if missing:
            raise TypeError(f"{query.__name__} filters by {sorted(missing)}: declare conditions")
        if set(self.conditions) & _PAGE_PARAMETERS:
            raise TypeError(f"filter names {sorted(_PAGE_PARAMETERS)} are taken by paging")
        self._clauses = {
            name: condition.build(bindparam(name)) for name, condition in self.conditions.items()
        }
        sort_field = query.model_fields.get("sort")
        sorts = get_args(sort_field.annotation) if sort_field is not None else ()
        if not sorts:
            raise TypeError(f"{query.__name__}.sort must be a Literal of the sort names")
        self.sort_keys: dict[str, SortKey] = {}
        for name in sorts:
            column = table.c[name.removeprefix("-")]
            parse = (parsers or {}).get(column.key) or parser_for(column)
            self.sort_keys[name] = SortKey(name, column, table.c.id, parse)
        # A cursor names the last row's sort value and id: a page must hold them.
        sorted_by = [key.column for key in self.sort_keys.values()]
        self.columns = tuple(dict.fromkeys([*self.columns, table.c.id, *sorted_by]))

    def where(self, values: Mapping[str, Any]) -> Filter:
        """The conditions of the filters given a value (None or "" sets none)."""
        params: dict[str, Any] = {}
        for name, condition in self.conditions.items():  # declared order: one shape each
            value = values.get(name)
            if value is not None and value != "":
                params[name] = condition.prepare(value)
        names = tuple(params)
        return Filter((self, *names), [self._clauses[name] for name in names], params)

    async def page(
        self,
        session: AsyncSession,
        query: BaseModel,
        request: PageRequest,
        fixed: Mapping[str, Any] | None = None,
    ) -> Page[Mapping[str, Any]]:
        """A page of the rows matching `query`'s filters and the caller's `fixed` ones."""
        values = {name: getattr(query, name) for name in self.query_filters}
        if fixed:
            if not fixed.keys() <= self.conditions.keys():  # never ignore an owner filter
                raise TypeError(f"no condition declared for {sorted(fixed)}")
            values.update(fixed)
        sort = self.sort_keys[getattr(query, "sort")]  # noqa: B009  (declared by subclasses)
        return await paginate(session, self, where=self.where(values), sort=sort, request=request)


# --- reading a page


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
    listing: Listing,
    *,
    where: Filter,
    sort: SortKey,
    request: PageRequest,
) -> Page[Mapping[str, Any]]:
    """One page of the rows of `listing` that match `where`, in `sort` order."""
    size = request.page_size
    params = {**where.params, "limit": size + 1}
    if request.cursor is not None:
        cursor, value = read_cursor(request.cursor, sort)
        position, params["offset"] = cursor.position, 0
        params.update(after_value=value, after_id=cursor.last_id)
    else:
        position = params["offset"] = (request.page - 1) * size
    statement = page_statement(listing, where, sort, after_cursor=request.cursor is not None)
    # Plain rows on the session's connection: lists are shown, not changed.
    connection = await session.connection()
    rows = await fetch_all(connection, statement, params)
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more:
        last = rows[-1]
        value = value_text(last[sort.column.key])
        last_id = last[sort.id_column.key]
        next_cursor = encode_cursor(Cursor(sort.name, value, last_id, position + len(rows)))
    if not more and (rows or position == 0):
        total, exact = position + len(rows), True  # the last page tells the total
    else:
        total, exact = await count_rows(
            connection, listing.source, where, exact=request.exact_total
        )
    return Page(
        items=rows,
        total=total,
        page=position // size + 1,
        page_size=size,
        next_cursor=next_cursor,
        total_exact=exact,
    )


def page_statement(
    listing: Listing, where: Filter, sort: SortKey, *, after_cursor: bool
) -> Select[Any]:
    """A page of `listing` in `sort` order: `offset` and `limit` parameters, and with
    `after_cursor` the `after_value` and `after_id` ones of `SortKey.after`."""
    key = (where.shape, sort.name, after_cursor)
    statement: Select[Any] | None = _statements.get(key)
    if statement is None:
        after = [sort.after()] if after_cursor else []
        built: Select[Any] = select(*listing.columns)
        statement = _statements[key] = (
            built.where(*where.clauses, *after)
            .order_by(*sort.order_by())
            .offset(bindparam("offset"))
            .limit(bindparam("limit"))
        )
    return statement
