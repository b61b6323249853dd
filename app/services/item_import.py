"""Reading an import file: CSV with a header row, or JSON Lines; one item per row.

Rows are numbered from 1 in file order, the CSV header not counted; blank lines are
skipped and not numbered. Each row is validated with the same rules as `POST /items`
(`ItemCreate`). A problem with the file as a whole (not UTF-8, no usable header, too
many rows, malformed CSV quoting) is an `ImportFileError`, reported when the file is
uploaded; a problem with one row is that row's error, reported in the job's result.

Reading is plain synchronous code: the API runs it in a worker thread, the Celery
task in its own process.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import ValidationError

from app.schemas.item import ItemCreate

ImportFormat = Literal["csv", "jsonl"]
JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})
JSONL_SUFFIXES = (".jsonl", ".ndjson")
COLUMNS = ("title", "description", "price")
REQUIRED_COLUMNS = ("title", "price")
MAX_ERROR_LENGTH = 300

# A row: its number, and either the raw fields or why they could not be read.
RawRow = tuple[int, dict[str, Any] | str]


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message is meant for the client."""


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An upload saved in the job folder, under a name of our choosing."""

    name: str  # relative to the job folder
    format: ImportFormat
    size: int


def detect_format(filename: str | None, content_type: str | None) -> ImportFormat:
    """JSON Lines when the name ends in .jsonl (or .ndjson) or the type says so; else CSV."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in JSONL_TYPES or (filename or "").lower().endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "csv"


def count_rows(path: Path, fmt: ImportFormat, *, max_rows: int) -> int:
    """Check the file's structure and count its rows, without validating them."""
    count = 0
    for count, _row in read_rows(path, fmt):
        if count > max_rows:
            raise ImportFileError(f"The file has more than {max_rows} rows")
    return count


def read_rows(path: Path, fmt: ImportFormat) -> Iterator[RawRow]:
    """The file's rows in order. Raises `ImportFileError` when the file is unreadable."""
    # utf-8-sig: spreadsheet programs often start UTF-8 files with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = _csv_rows(handle) if fmt == "csv" else _jsonl_rows(handle)
        number = 0
        try:
            for number, row in rows:
                yield number, row
        except UnicodeDecodeError as exc:
            raise ImportFileError("The file is not valid UTF-8 text") from exc
        except csv.Error as exc:
            raise ImportFileError(f"Malformed CSV after row {number}: {exc}") from exc


def validate_row(row: dict[str, Any] | str) -> ItemCreate | str:
    """The row as an `ItemCreate`, or the message saying why it is not one."""
    if isinstance(row, str):
        return row
    try:
        return ItemCreate.model_validate(row)
    except ValidationError as exc:
        return _truncate(
            "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'row'}: {error['msg']}"
                for error in exc.errors()
            )
        )


def _csv_rows(handle: TextIO) -> Iterator[RawRow]:
    reader = csv.reader(handle)
    header = _header(reader)
    positions = {name: header.index(name) for name in COLUMNS if name in header}
    width = len(header)
    number = 0
    for record in reader:
        if _is_blank(record):
            continue
        number += 1
        if len(record) > width:
            yield number, f"row has {len(record)} fields, the header has {width}"
            continue
        fields = {name: record[i] if i < len(record) else None for name, i in positions.items()}
        if not fields.get("description"):
            fields["description"] = None  # an empty cell means "no description"
        yield number, fields


def _is_blank(record: list[str]) -> bool:
    """A blank line, or one of whitespace only: skipped, and not numbered."""
    return not record or (len(record) == 1 and not record[0].strip())


def _header(reader: Any) -> list[str]:
    for record in reader:
        if _is_blank(record):
            continue
        header = [name.strip().lower() for name in record]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise ImportFileError(
                f"The CSV header must name the columns {', '.join(COLUMNS)} "
                f"(missing: {', '.join(missing)})"
            )
        duplicated = sorted({name for name in header if name and header.count(name) > 1})
        if duplicated:
            raise ImportFileError(f"The CSV header repeats {', '.join(duplicated)}")
        return header
    raise ImportFileError("The file is empty: a CSV import starts with a header row")


def _jsonl_rows(handle: TextIO) -> Iterator[RawRow]:
    number = 0
    for line in handle:
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"invalid JSON: {exc.msg} (column {exc.colno})"
            continue
        except (ValueError, RecursionError):  # numbers too long, nesting too deep
            yield number, "invalid JSON"
            continue
        if isinstance(value, dict):
            yield number, value
        else:
            yield number, "row must be a JSON object"


def _truncate(message: str) -> str:
    return message if len(message) <= MAX_ERROR_LENGTH else message[: MAX_ERROR_LENGTH - 1] + "…"
