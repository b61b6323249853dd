"""The total of a list: exact whenever it is cheap to be exact, flagged when it is not.

- a page that is not full tells the total by itself (no query at all: see
  `app/services/pagination.py`);
- otherwise the matching rows are counted, but at most `EXACT_COUNT_LIMIT` of them;
- beyond that, PostgreSQL's planner estimate is reported with `total_exact=False`
  (and remembered for `ESTIMATE_TTL` seconds), unless the client asks for
  `exact_total`. SQLite has no estimates: its totals are always counted.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.explain import explain_rows
from app.db.fetch import fetch_value

EXACT_COUNT_LIMIT = 10_000
ESTIMATE_TTL = 10.0
_ESTIMATES_MAX = 1024
_estimates: dict[Hashable, tuple[float, int]] = {}
# One statement per listing, filter shape and kind: a few dozen at most.
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

    key = (source.description, where.shape, kind)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = build()
    return statement


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
