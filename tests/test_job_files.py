"""Job files without a database: uploads, reading imports, writing exports, the sweep."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from app.api.uploads import receive_upload
from app.exceptions import PayloadTooLargeError
from app.services.item_export import format_row, neutralise, write_csv
from app.services.item_import import (
    ImportFileError,
    count_rows,
    detect_format,
    read_rows,
    validate_row,
)
from app.tasks.files import sweep_job_files


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("items.csv", "text/csv", "csv"),
        ("items.JSONL", None, "jsonl"),
        ("items.ndjson", "text/plain", "jsonl"),
        ("upload", "application/x-ndjson; charset=utf-8", "jsonl"),
        (None, None, "csv"),
        ("items.jsonl.csv", "text/csv", "csv"),
    ],
)
def test_format_comes_from_the_name_or_the_part_type(
    filename: str | None, content_type: str | None, expected: str
) -> None:
    assert detect_format(filename, content_type) == expected


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "upload"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_csv_rows_are_numbered_without_header_or_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "\ufeff Price ,TITLE\r\n\r\n1,a\r\n\r\n" + '2,"multi\nline"\r\n' + "3,c,extra\r\n",
    )
    rows = list(read_rows(path, "csv"))
    assert rows == [
        (1, {"title": "a", "price": "1", "description": None}),
        (2, {"title": "multi\nline", "price": "2", "description": None}),
        (3, "row has 3 fields, the header has 2"),
    ]
    assert count_rows(path, "csv", max_rows=3) == 3
    with pytest.raises(ImportFileError, match="more than 2 rows"):
        count_rows(path, "csv", max_rows=2)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("[" * 100_000, "invalid JSON"),
        ('{"price": 1' + "0" * 5000 + "}", "invalid JSON"),
        ('"just a string"', "row must be a JSON object"),
        ("{'single': 'quotes'}", "invalid JSON: Expecting property name"),
    ],
)
def test_hostile_json_lines_are_row_errors(tmp_path: Path, line: str, error: str) -> None:
    path = _write(tmp_path, f'{{"title": "ok", "price": 1}}\n{line}\n')
    rows = list(read_rows(path, "jsonl"))
    assert rows[0] == (1, {"title": "ok", "price": 1})
    assert rows[1][0] == 2
    assert isinstance(rows[1][1], str)
    assert rows[1][1].startswith(error)


def test_rows_are_validated_like_post_items() -> None:
    item = validate_row({"title": "  Lamp ", "price": "9.9", "description": None, "owner_id": 5})
    assert not isinstance(item, str)
    assert (item.title, item.price) == ("Lamp", Decimal("9.90"))
    error = validate_row({"title": "x\x00", "price": True})
    assert isinstance(error, str)
    assert error.startswith("title: ")
    assert "price: " in error
    assert len(validate_row({"title": "", "price": "x" * 5000})) <= 300


def test_negative_price_row_error_names_the_limit() -> None:
    # CSV cells are strings: "-5" is refused for being below zero, as the number -5 is.
    assert validate_row({"title": "Chair", "price": "-5"}) == (
        "price: Input should be greater than or equal to 0"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_export_rows_are_text_with_two_decimal_prices() -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_row((7, "Lamp", None, Decimal("9.9"), stamp, stamp)) == [
        "7",
        "Lamp",
        "",
        "9.90",
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05Z",
    ]


async def test_export_file_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"

    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield (1, "=x", "d", Decimal("1"), None, None)
        assert not target.exists()  # written under a temporary name until the end
        yield (2, "y", None, Decimal("2.5"), None, None)

    assert await write_csv(rows(), target) == 2
    parsed = list(csv.reader(io.StringIO(target.read_text())))
    assert parsed[1:] == [["1", "'=x", "d", "1.00", "", ""], ["2", "y", "", "2.50", "", ""]]
    assert os.listdir(tmp_path) == ["export.csv"]


def test_sweep_removes_old_job_files_only(tmp_path: Path) -> None:
    for folder in ("imports", "exports", "broker"):
        (tmp_path / folder).mkdir()
    old, new = tmp_path / "exports" / "old.csv", tmp_path / "imports" / "new.upload"
    kept = tmp_path / "broker" / "old.msg"  # the broker's files are not the sweep's
    for path in (old, new, kept):
        path.write_text("x")
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    os.utime(kept, (stale, stale))
    assert sweep_job_files(tmp_path, max_age=3600, force=True) == 1
    assert not old.exists()
    assert new.exists()
    assert kept.exists()


def _request(body: bytes, boundary: str = "b0undary") -> Request:
    """A request whose body arrives in 1,000-byte chunks, with no Content-Length."""
    chunks = [body[start : start + 1000] for start in range(0, len(body), 1000)]
    messages = iter(
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    content_type = f"multipart/form-data; boundary={boundary}".encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", content_type)],
    }
    return Request(scope, receive)


def _multipart(content: bytes, filename: str, boundary: str = "b0undary") -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{boundary}--\r\n".encode()


async def test_upload_is_streamed_to_a_file_of_our_naming(tmp_path: Path) -> None:
    content = b'{"title": "a", "price": 1}\n' * 500
    upload = await receive_upload(
        _request(_multipart(content, "../../evil.jsonl")), tmp_path, limit=1_000_000
    )
    assert (upload.format, upload.size) == ("jsonl", len(content))
    assert upload.name.startswith("imports/")
    assert "evil" not in upload.name
    assert (tmp_path / upload.name).read_bytes() == content


async def test_upload_stops_at_its_limit_on_its_own(tmp_path: Path) -> None:
    # No body-size middleware here: the endpoint's own streaming check answers 413.
    request = _request(_multipart(b"title,price\n" + b"Lamp,1\n" * 2000, "a.csv"))
    with pytest.raises(PayloadTooLargeError):
        await receive_upload(request, tmp_path, limit=2048)
    assert os.listdir(tmp_path / "imports") == []
