"""Receiving an import file: the multipart body streamed to disk, never held in memory.

Starlette's form parser spools a file part of any size before the endpoint runs. This
parser (python-multipart's, driven by hand) writes the `file` part into the job folder
as the body arrives, and answers 413 as soon as the part passes `MAX_IMPORT_SIZE`,
whatever the body-size middleware in front of it does. The file gets a name of our
choosing; the client's file name only picks the format.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.config import get_settings
from app.db.session import SessionDep
from app.exceptions import PayloadTooLargeError, ValidationError
from app.services.item_import import StoredUpload, detect_format

FIELD = "file"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file

# The request body of the upload routes, for the OpenAPI document (the body is parsed
# by hand, so FastAPI cannot describe it).
UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "minLength": 1,  # an empty file is refused (422)
                            "description": "CSV with a header row (title,description,price), "
                            "or JSON Lines when the name ends in .jsonl or the part's type "
                            "is application/x-ndjson",
                        }
                    },
                }
            }
        },
    }
}


def _invalid(message: str) -> ValidationError:
    return ValidationError(
        message, details={"errors": [{"field": f"body.{FIELD}", "message": message}]}
    )


class _FilePartParser:
    """Collects the bytes of the first part named `file`; other parts are skipped."""

    def __init__(self, boundary: bytes) -> None:
        self.filename: str | None = None
        self.content_type: str | None = None
        self.found = self.ended = self._in_file = False
        self._pending: list[bytes] = []
        self._headers: dict[str, str] = {}
        self._name = bytearray()
        self._value = bytearray()
        self.parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._headers.clear,
                "on_header_field": lambda data, start, end: self._name.extend(data[start:end]),
                "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def feed(self, chunk: bytes) -> bytes:
        """Parse a chunk of the body; returns the file bytes it contained."""
        try:
            self.parser.write(chunk)
        except MultipartParseError as exc:
            raise _invalid("Malformed multipart body") from exc
        data = b"".join(self._pending)
        self._pending.clear()
        return data

    def _header_end(self) -> None:
        name = self._name.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._name.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        if params.get(b"name") != FIELD.encode():
            return
        if self.found:
            raise _invalid("Send one file per import")
        self.found = self._in_file = True
        filename = params.get(b"filename")
        self.filename = filename.decode("utf-8", "replace") if filename else None
        self.content_type = self._headers.get("content-type")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self.ended = True


async def receive_upload(request: Request, job_path: Path, *, limit: int) -> StoredUpload:
    """Save the `file` part of a multipart request under `job_path/imports/`."""
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    if media_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise _invalid(f"Send the file as multipart/form-data in the field '{FIELD}'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLargeError(f"The file is larger than {limit} bytes")
    name = f"imports/{uuid.uuid4().hex}.upload"
    path = job_path / name
    await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
    parser = _FilePartParser(params[b"boundary"])
    size = received = 0
    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                data = parser.feed(chunk)
                size += len(data)
                if size > limit or received > limit + MULTIPART_OVERHEAD:
                    raise PayloadTooLargeError(f"The file is larger than {limit} bytes")
                if data:
                    await out.write(data)
        if not parser.found or not parser.ended:
            raise _invalid("Field required" if parser.ended else "Incomplete multipart body")
        if size == 0:
            raise _invalid("The file is empty")
    except BaseException:
        path.unlink(missing_ok=True)  # sync: an await could be cancelled again here
        raise
    return StoredUpload(
        name=name, format=detect_format(parser.filename, parser.content_type), size=size
    )


async def stored_upload(request: Request, session: SessionDep) -> AsyncIterator[StoredUpload]:
    """The request's import file, saved; removed again if the request fails.

    The transaction that authenticated the caller (reads only) is ended first, so no
    database lock (SQLite) or pooled connection (PostgreSQL) waits on a slow upload.
    """
    if session.in_transaction():
        await session.commit()
    settings = get_settings()
    upload = await receive_upload(request, settings.job_path, limit=settings.max_import_size)
    try:
        yield upload
    except BaseException:
        (settings.job_path / upload.name).unlink(missing_ok=True)
        raise


ImportUpload = Annotated[StoredUpload, Depends(stored_upload, scope="function")]
