"""Plain reads, run on the driver's connection when SQLAlchemy would add nothing to them.

SQLAlchemy's execution of a prebuilt statement costs about 0.1 ms of CPU on top of
the driver's own: an execution context, parameter processing, a cursor adapter and
a result object per call. For a read of one row by its key that is more than the
read itself. On asyncpg the statements here are therefore compiled once, and run
with asyncpg's `fetch()` on the connection of the request's own session: same
connection, same transaction (if one has begun), same `get_async_session`
overrides, no second pool.

A statement runs that way only when nothing would differ: a SELECT whose columns
need no result processing on asyncpg (SQLAlchemy's own processor for the column's
type is None there), and whose parameters are known when it compiles; parameters
still go through their types' bind processing. Anything else, and every other
driver (SQLite), takes SQLAlchemy's path, and so do failures other than a time-out
(which answers 503 either way): the statement runs again through SQLAlchemy, which
raises, translates the driver's error and invalidates a lost connection as for
every other statement. These are reads, so running one twice changes nothing.

On PostgreSQL under READ COMMITTED (the default), a read outside a transaction
that has not yet begun sees what it would see as the transaction's first statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, Numeric, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement compiled for asyncpg: its SQL, and its parameters in order."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]  # values bound when the statement was built
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processing)

    def arguments(self, params: Mapping[str, Any] | None) -> list[Any]:
        values = {**self.defaults, **(params or {})}
        arguments = [values[name] for name in self.names]
        for position, process in self.processors:
            arguments[position] = process(arguments[position])
        return arguments


# Statement -> its compiled form, or None where it must take SQLAlchemy's path. Build
# statements once and reuse them, as the services do (module level, or cached in
# `pagination`): compiling one costs about 0.13 ms. A statement built per call is
# compiled per call, and forgotten with it.
_compiled: WeakKeyDictionary[Select[Any], DriverStatement | None] = WeakKeyDictionary()


def returned_as_is(type_: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether the driver's value for a column of `type_` is what SQLAlchemy would return."""
    if isinstance(type_, Numeric):
        # Processed according to the database type of the column. Plain `Numeric`
        # columns are NUMERIC, which asyncpg returns as Decimal; Float is converted.
        return type(type_) is Numeric and bool(type_.asdecimal)
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None) is None
    except Exception:  # a processor that needs the database type: not plain
        return False


def compile_for_driver(statement: Select[Any], dialect: Dialect) -> DriverStatement | None:
    """`statement` compiled for the driver, or None if SQLAlchemy must run it."""
    columns = statement.selected_columns
    if not all(returned_as_is(column.type, dialect) for column in columns):
        return None
    if any(isinstance(column, Column) and column.key != column.name for column in columns):
        return None  # the driver's rows are keyed by the SQL name, SQLAlchemy's by the key
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None  # rendered at execution time (IN lists and the like)
    names = tuple(compiled.positiontup or ())
    binds = {name: compiled.binds[name] for name in names}
    if any(bind.callable is not None for bind in binds.values()):
        return None
    processors = [
        bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds.values()
    ]
    return DriverStatement(
        sql=compiled.string,
        names=names,
        defaults={name: bind.value for name, bind in binds.items() if not bind.required},
        processors=tuple(
            (position, process) for position, process in enumerate(processors) if process
        ),
    )


def _driver_statement(statement: Select[Any], dialect: Dialect) -> DriverStatement | None:
    if dialect.driver != "asyncpg":
        return None
    try:
        return _compiled[statement]
    except KeyError:
        driver_statement = _compiled[statement] = compile_for_driver(statement, dialect)
        return driver_statement


async def fetch_all(
    connection: AsyncConnection, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> Sequence[Mapping[str, Any]]:
    """The rows of `statement`, as mappings of column name to value."""
    driver_statement = _driver_statement(statement, connection.dialect)
    if driver_statement is not None:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        try:
            records = await driver.fetch(driver_statement.sql, *driver_statement.arguments(params))
        except TimeoutError:
            raise  # 503; asyncpg has cancelled the query, the connection stays usable
        except Exception as exc:
            # Run again below: SQLAlchemy raises, translates and invalidates as usual.
            logger.warning("read on the driver connection failed, retrying it: %r", exc)
        else:
            return [dict(record) for record in records]
    result = await connection.execute(statement, dict(params or {}))
    rows: Sequence[Mapping[str, Any]] = result.mappings().all()
    return rows


async def fetch_value(
    connection: AsyncConnection, statement: Select[Any], params: Mapping[str, Any] | None = None
) -> Any:
    """The first column of the first row of `statement`, or None if there is no row."""
    rows = await fetch_all(connection, statement, params)
    return next(iter(rows[0].values())) if rows else None
