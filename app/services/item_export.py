"""Writing a user's items as CSV, safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets (CSV injection); such cells get a leading `'`,
which spreadsheets show as text and strip from the value.
"""

from __future__ import annotations

import csv
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models.item import Item
from app.schemas.common import datetime_text, price_text

EXPORT_COLUMNS = ("id", "title", "description", "price", "created_at", "updated_at")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FETCH_SIZE = 2_000


def neutralise(value: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def format_row(row: Sequence[Any]) -> list[str]:
    return [neutralise(_cell(value)) for value in row]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return price_text(value)
    if isinstance(value, datetime):
        return datetime_text(value)  # "...Z", as in the API's JSON
    return str(value)


async def count_items(factory: async_sessionmaker[AsyncSession], owner_id: int) -> int:
    async with factory() as session:
        return await session.scalar(select(func.count()).where(Item.owner_id == owner_id)) or 0


async def iter_item_rows(
    factory: async_sessionmaker[AsyncSession], owner_id: int
) -> AsyncIterator[Sequence[Any]]:
    """The owner's items in id order, a chunk per short transaction (keyset paging).

    No transaction stays open while the file is written, so the export never holds
    up writers (on SQLite a session's transaction holds the write lock).
    """
    columns = (Item.id, Item.title, Item.description, Item.price, Item.created_at, Item.updated_at)
    last_id = 0
    while True:
        async with factory() as session:
            chunk = (
                await session.execute(
                    select(*columns)
                    .where(Item.owner_id == owner_id, Item.id > last_id)
                    .order_by(Item.id)
                    .limit(FETCH_SIZE)
                )
            ).all()
        for row in chunk:
            yield tuple(row)
        if len(chunk) < FETCH_SIZE:
            return
        last_id = chunk[-1][0]


async def write_csv(
    rows: AsyncIterator[Sequence[Any]],
    path: Path,
    *,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
    every: int = 10_000,
) -> int:
    """Write the rows to `path` atomically (a temporary file renamed at the end)."""
    temporary = path.with_name(f".{path.name}.part")
    count = 0
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            async for row in rows:
                writer.writerow(format_row(row))
                count += 1
                if on_progress is not None and count % every == 0:
                    await on_progress(count)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return count
