"""Bulk loading: PostgreSQL's COPY through asyncpg, multi-row INSERTs elsewhere.

Used by `python -m app seed`. COPY streams rows in PostgreSQL's binary format and
loads a million items in seconds; the executemany path is what SQLite can do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base

BATCH_ROWS = 20_000


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterable[list[Sequence[Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


async def load_rows(
    session: AsyncSession, model: type[Base], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples in `columns` order) in the session's transaction; returns the count."""
    connection = await session.connection()
    count = 0
    if connection.dialect.driver == "asyncpg":
        # The driver starts the transaction lazily: a first statement makes COPY join it.
        await connection.execute(select(1))
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        for batch in _batches(rows, BATCH_ROWS):
            await driver.copy_records_to_table(
                model.__tablename__, records=batch, columns=list(columns)
            )
            count += len(batch)
        return count
    for batch in _batches(rows, BATCH_ROWS):
        await session.execute(
            insert(model), [dict(zip(columns, row, strict=True)) for row in batch]
        )
        count += len(batch)
    return count
