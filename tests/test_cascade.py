"""Deleting a user deletes their rows in every table that depends on users, on any connection.

The tables are found from the models' foreign keys and a row is made in each from
its columns' types, so a new owned table is covered here without a line changed.
The first test runs on a plain SQLite engine, foreign keys off (SQLite's default,
and what a harness's own engine gets): `ON DELETE CASCADE` does nothing there.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Table, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.types import TypeDecorator

import app.models  # noqa: F401  (every table in the metadata)
from app.db.base import Base
from app.services.user import UserService
from tests.factories import make_user

USERS = Base.metadata.tables["users"]
_VALUES: dict[type[Any], Any] = {
    str: "x",
    int: 1,
    bool: False,
    Decimal: Decimal("1.00"),
    datetime: datetime(2026, 1, 1, tzinfo=UTC),
    dict: {},
}


def dependent_tables() -> list[Table]:
    """Every table whose rows go with a user's, directly or through other tables."""
    found = [USERS]
    for table in Base.metadata.sorted_tables:  # parents before children
        if any(key.column.table in found for key in table.foreign_keys):
            found.append(table)
    return found[1:]


def _value(column: Column[Any]) -> Any:
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    python_type = column_type.python_type
    if python_type is str:  # unique where it must be, within the column's length
        return secrets.token_hex(8)[: getattr(column_type, "length", None) or 16]
    return _VALUES[python_type]


def _required(column: Column[Any]) -> bool:
    """A column an insert must fill: not nullable, no default, not a generated key."""
    generated = column.primary_key and not column.foreign_keys and column.autoincrement
    return not (column.nullable or column.default or column.server_default or generated)


async def make_row(session: AsyncSession, table: Table, owner_id: int) -> tuple[Any, ...]:
    """A row of `table` with every required column filled, its parents made as needed."""
    values: dict[str, Any] = {}
    for column in table.columns:
        key = next(iter(column.foreign_keys), None)
        if key is not None:
            parent = key.column.table
            if parent is USERS:
                values[column.name] = owner_id
            else:
                values[column.name] = (await make_row(session, parent, owner_id))[0]
        elif _required(column):
            values[column.name] = _value(column)
    result = await session.execute(insert(table).values(values).returning(*table.primary_key))
    return tuple(result.one())


async def _rows_left(
    session: AsyncSession, made: dict[Table, list[tuple[Any, ...]]]
) -> dict[str, int]:
    left = {}
    for table, keys in made.items():
        key = tuple_(*table.primary_key.columns)
        count = select(func.count()).select_from(table).where(key.in_(keys))
        left[table.name] = await session.scalar(count) or 0
    return left


async def _delete_one_of_two_users(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    doomed, kept = await make_user(session), await make_user(session)
    made: dict[int, dict[Table, list[tuple[Any, ...]]]] = {doomed.id: {}, kept.id: {}}
    for user_id, rows in made.items():
        for table in dependent_tables():
            rows.setdefault(table, []).append(await make_row(session, table, user_id))
    await UserService(session).delete(doomed)
    await session.flush()
    return await _rows_left(session, made[doomed.id]), await _rows_left(session, made[kept.id])


def test_every_table_that_points_at_users_is_covered() -> None:
    names = {table.name for table in dependent_tables()}
    assert {"items", "jobs", "refresh_tokens"} <= names
    for table in dependent_tables():
        for key in table.foreign_keys:
            assert (key.ondelete or "").upper() in ("CASCADE", "SET NULL"), key


async def test_a_users_rows_go_on_sqlite_with_foreign_keys_off(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 0
        async with AsyncSession(engine, expire_on_commit=False) as session:
            gone, kept = await _delete_one_of_two_users(session)
            await session.commit()
    finally:
        await engine.dispose()
    assert set(gone.values()) == {0}, gone
    assert set(kept.values()) == {1}, kept


@pytest.mark.usefixtures("database_url")
async def test_a_users_rows_go_and_no_one_elses(session: AsyncSession) -> None:
    gone, kept = await _delete_one_of_two_users(session)
    assert set(gone.values()) == {0}, gone
    assert set(kept.values()) == {1}, kept
