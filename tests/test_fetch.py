"""Plain reads on the driver's connection (`app/db/fetch.py`) return what SQLAlchemy would.

On asyncpg the services' hot reads skip SQLAlchemy's execution; these tests hold
them to SQLAlchemy's own results for the same statements, on the same connection.
On SQLite every read takes SQLAlchemy's path, so there they check the fallback.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Enum,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db import fetch
from app.db.fetch import compile_for_driver, fetch_all, fetch_value
from app.models.item import Item
from app.schemas.item import ItemQuery
from app.services import item as item_service
from app.services import pagination, totals
from app.services import user as user_service
from app.services.item import ITEM_LIST
from tests.factories import make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
ASYNCPG = asyncpg.dialect()


SORT_KEYS = ITEM_LIST.sort_keys


def _where(**filters: Any) -> pagination.Filter:
    return ITEM_LIST.where(ItemQuery(**filters).model_dump())


def _page(where: pagination.Filter, sort: str, *, after: bool) -> Select[Any]:
    return pagination.page_statement(ITEM_LIST, where, SORT_KEYS[sort], after_cursor=after)


async def _sqlalchemy_rows(
    connection: AsyncConnection, statement: Select[Any], params: dict[str, Any]
) -> list[dict[str, Any]]:
    return [dict(row) for row in (await connection.execute(statement, params)).mappings()]


async def _items(session: AsyncSession) -> tuple[int, list[Item]]:
    owner = await make_user(session)
    items = [
        await make_item(
            session, owner, title=f"Lamp {n % 3}", price=Decimal(n % 4) + Decimal("0.5")
        )
        for n in range(9)
    ]
    return owner.id, items


async def test_service_reads_match_sqlalchemy(session: AsyncSession) -> None:
    owner_id, items = await _items(session)
    connection = await session.connection()
    filters = _where(owner_id=owner_id, q="lamp", min_price=Decimal("0.5"))
    where = dict(filters.params)
    newest = max(items, key=lambda item: (item.created_at, item.id))
    cases: list[tuple[Select[Any], dict[str, Any]]] = [
        (item_service._BY_ID, {"item_id": items[3].id}),
        (item_service._BY_ID, {"item_id": 2**31 - 1}),  # no row
        (user_service._RECENT_ITEMS, {"owner_id": owner_id, "limit": 5}),
        (totals._count_statement(Item.__table__, filters, "count"), where),
        (totals._count_statement(Item.__table__, filters, "bounded"), where),
    ]
    for sort, key in SORT_KEYS.items():
        page = where | {"offset": 0, "limit": 4}
        after = {"after_value": getattr(newest, key.column.key), "after_id": newest.id}
        cases += [
            (_page(filters, sort, after=False), page),
            (_page(filters, sort, after=True), page | after),
        ]
    for statement, params in cases:
        expected = await _sqlalchemy_rows(connection, statement, params)
        assert [dict(row) for row in await fetch_all(connection, statement, params)] == expected


async def test_reads_see_the_sessions_own_uncommitted_writes(session: AsyncSession) -> None:
    owner = await make_user(session)
    item = await make_item(session, owner, title="Not yet committed")  # flushed only
    connection = await session.connection()
    rows = await fetch_all(connection, item_service._BY_ID, {"item_id": item.id})
    assert [row["title"] for row in rows] == ["Not yet committed"]


async def test_timestamps_come_back_in_utc_whatever_the_session_time_zone(
    session: AsyncSession,
) -> None:
    owner = await make_user(session)
    created = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    item = await make_item(session, owner, created_at=created)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL TIME ZONE 'Asia/Tokyo'"))
    for rows in (
        await fetch_all(connection, item_service._BY_ID, {"item_id": item.id}),
        await _sqlalchemy_rows(connection, item_service._BY_ID, {"item_id": item.id}),
    ):
        value = rows[0]["created_at"]
        assert value == created
        assert value.utcoffset() == timedelta(0)


async def test_fetch_value_is_the_first_column_of_the_first_row(session: AsyncSession) -> None:
    owner_id, items = await _items(session)
    connection = await session.connection()
    count = totals._count_statement(Item.__table__, _where(owner_id=owner_id), "count")
    assert await fetch_value(connection, count, {"owner_id": owner_id}) == len(items)
    none = select(Item.__table__.c.title).where(Item.__table__.c.id == bindparam("item_id"))
    assert await fetch_value(connection, none, {"item_id": 2**31 - 1}) is None


async def test_a_read_that_fails_on_the_driver_is_answered_by_sqlalchemy(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Any failure but a time-out: SQLAlchemy runs the read again, and raises as it always does."""
    if engine.dialect.driver != "asyncpg":
        pytest.skip("only asyncpg reads on the driver")
    broken = fetch.DriverStatement("SELECT no_such_column FROM items", (), {}, ())
    monkeypatch.setattr(fetch, "_driver_statement", lambda _statement, _dialect: broken)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = await fetch_all(autocommit, select(literal(1, Integer).label("one")))
    assert [dict(row) for row in rows] == [{"one": 1}]
    failed = [r for r in caplog.records if "read on the driver connection failed" in r.message]
    assert len(failed) == 1


class Colour(enum.Enum):
    RED = "red"


_OTHER = Table(
    "fetch_types",
    MetaData(),
    Column("id", Item.__table__.c.id.type, primary_key=True),
    Column("colour", Enum(Colour)),
    Column("ratio", Float()),
    Column("db_name", String(10), key="attr"),
)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(select(_OTHER.c.colour), id="enum: converted to the Python enum"),
        pytest.param(select(_OTHER.c.ratio), id="float: processed by database type"),
        pytest.param(select(_OTHER.c.attr), id="column key other than its name"),
        pytest.param(
            select(_OTHER.c.id).where(_OTHER.c.id.in_(bindparam("ids", expanding=True))),
            id="IN list: rendered at execution",
        ),
    ],
)
def test_statements_that_need_sqlalchemy_are_left_to_it(statement: Select[Any]) -> None:
    assert compile_for_driver(statement, ASYNCPG) is None


def test_the_services_hot_reads_run_on_the_driver() -> None:
    filters = _where(owner_id=1, q="x", min_price=Decimal(1), max_price=Decimal(2))
    statements = [
        item_service._BY_ID,
        user_service._RECENT_ITEMS,
        totals._count_statement(Item.__table__, filters, "bounded"),
        *(_page(filters, sort, after=after) for sort in SORT_KEYS for after in (False, True)),
    ]
    for statement in statements:
        compiled = compile_for_driver(statement, ASYNCPG)
        assert compiled is not None, statement
        assert "$1" in compiled.sql


def test_bind_processing_still_applies_on_the_driver() -> None:
    """A naive datetime is refused as SQLAlchemy refuses it (UTCDateTime's bind processing)."""
    compiled = compile_for_driver(_page(_where(), "created_at", after=True), ASYNCPG)
    assert compiled is not None
    params = {"offset": 0, "limit": 1, "after_id": 1}
    aware = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert aware in compiled.arguments(params | {"after_value": aware})
    with pytest.raises(ValueError, match="naive"):
        compiled.arguments(params | {"after_value": datetime(2026, 1, 1)})  # noqa: DTZ001
