"""Opaque, signed pagination cursors.

A cursor names the last row a client has seen: the sort key it was listed by, that
row's sort value and id, and how many rows came before the next one. It travels as
base64url JSON followed by an HMAC-SHA256 tag (truncated to 128 bits) under a key
derived from the signing key, so a client can neither forge nor alter one; anything
that does not verify is `InvalidCursorError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from app.config import get_settings

TAG_BYTES = 16
MAX_CURSOR_LENGTH = 1024


class InvalidCursorError(ValueError):
    """The cursor is malformed, was not issued by this service, or was altered."""


@dataclass(frozen=True, slots=True)
class Cursor:
    sort: str  # the sort key the listing used, e.g. "-created_at"
    value: str  # the last row's sort value, as text
    last_id: int
    position: int  # rows before the next one (to report a page number)


@lru_cache(maxsize=4)
def _key(signing_key: str) -> bytes:
    return hmac.new(signing_key.encode(), b"pagination-cursor", hashlib.sha256).digest()


def _tag(payload: bytes) -> bytes:
    return hmac.new(_key(get_settings().signing_key), payload, hashlib.sha256).digest()[:TAG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(cursor: Cursor) -> str:
    body = [cursor.sort, cursor.value, cursor.last_id, cursor.position]
    payload = json.dumps(body, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_tag(payload))}"


def decode_cursor(token: str) -> Cursor:
    """The cursor a token carries; `InvalidCursorError` unless this service signed it."""
    if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
        raise InvalidCursorError("malformed cursor")
    payload_text, tag_text = token.split(".")
    try:
        payload, tag = _unb64(payload_text), _unb64(tag_text)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("malformed cursor") from exc
    if not hmac.compare_digest(tag, _tag(payload)):
        raise InvalidCursorError("cursor signature does not match")
    try:
        sort, value, last_id, position = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError("malformed cursor") from exc
    if not (
        isinstance(sort, str)
        and isinstance(value, str)
        and type(last_id) is int
        and type(position) is int
    ):
        raise InvalidCursorError("malformed cursor")
    return Cursor(sort=sort, value=value, last_id=last_id, position=position)


def value_text(value: Any) -> str:
    """A sort value as a cursor carries it; the parsers below read it back."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value


def parse_decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


def parse_bool(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError("not a boolean")
    return text == "True"


# How a cursor's text turns back into a sort value, by the value's Python type.
CURSOR_VALUE_PARSERS: dict[type[Any], Callable[[str], Any]] = {
    datetime: parse_datetime,
    Decimal: parse_decimal,
    bool: parse_bool,
    int: int,
    str: str,
}
