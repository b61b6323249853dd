"""The cursor format: what a cursor carries, how it is signed, what is refused and why."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from app.core import cursor as cursors
from app.core.cursor import (
    MAX_CURSOR_LENGTH,
    Cursor,
    InvalidCursorError,
    decode_cursor,
    parse_bool,
    value_text,
)
from app.core.cursor import encode_cursor as encode

# Issued under the test suite's SECRET_KEY (see conftest): a cursor a client holds
# across a deploy must still be accepted, so the format and the key derivation are fixed.
ISSUED = "WyJwcmljZSIsIjkuOTkiLDcsMjBd.0MrMjwb9qWWaCI_X7uhr6Q"


def _signed(payload: bytes) -> str:
    """A cursor token for any payload, signed as the service signs (to test what it refuses)."""
    return f"{cursors._b64(payload)}.{cursors._b64(cursors._tag(payload))}"


def test_a_cursor_issued_before_still_decodes_and_is_issued_alike() -> None:
    assert decode_cursor(ISSUED) == Cursor("price", "9.99", 7, 20)
    assert encode(Cursor("price", "9.99", 7, 20)) == ISSUED


def test_a_cursor_is_unpadded_base64url_of_compact_json_and_a_128_bit_tag() -> None:
    token = encode(Cursor("-title", "Lamp, brass", 41, 100))
    payload, tag = token.split(".")
    assert "=" not in token
    assert base64.urlsafe_b64decode(payload + "==") == b'["-title","Lamp, brass",41,100]'
    assert len(base64.urlsafe_b64decode(tag + "==")) == 16


def test_every_cursor_round_trips_whatever_its_padding() -> None:
    # Values of every length: payloads end on every base64 character and padding length.
    for length in range(200):
        issued = Cursor("title", "x" * length + "\u00e9", length + 1, length)
        assert decode_cursor(encode(issued)) == issued


def test_a_cursor_signed_under_another_key_is_refused(set_env: Callable[..., None]) -> None:
    issued = encode(Cursor("price", "1.00", 3, 2))
    set_env(SECRET_KEY="another-secret-key-that-is-long-enough-for-hs256")
    with pytest.raises(InvalidCursorError, match=r"^cursor signature does not match$"):
        decode_cursor(issued)
    assert decode_cursor(encode(Cursor("price", "1.00", 3, 2))).last_id == 3


@pytest.mark.parametrize(
    "token",
    ["", "no-dot", "a.b.c", "é.é", "A.A", "x" * (MAX_CURSOR_LENGTH + 1)],
)
def test_malformed_tokens_are_refused_as_malformed(token: str) -> None:
    with pytest.raises(InvalidCursorError, match=r"^malformed cursor$"):
        decode_cursor(token)


def test_a_changed_payload_or_tag_is_refused_as_unsigned() -> None:
    payload, tag = ISSUED.split(".")
    forged = cursors._b64(b'["price","9.99",7,2000]')
    for token in (f"{forged}.{tag}", f"{payload}.{tag[:-1]}A", f"{payload}.{tag[:10]}"):
        with pytest.raises(InvalidCursorError, match=r"^cursor signature does not match$"):
            decode_cursor(token)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"sort": "price"}',
        b'["price","9.99",7]',
        b'["price","9.99",7,20,1]',
        b"[1,2,3,4]",
        b'[1,"9.99",7,20]',
        b'["price",9.99,7,20]',
        b'["price","9.99","7",20]',
        b'["price","9.99",true,20]',
        b'["price","9.99",7.0,20]',
        b'["price","9.99",7,"20"]',
        b'["price","9.99",7,false]',
        b'["price","9.99",7,null]',
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_refused_as_malformed(body: bytes) -> None:
    with pytest.raises(InvalidCursorError, match=r"^malformed cursor$"):
        decode_cursor(_signed(body))


def test_a_signed_payload_of_the_right_shape_decodes() -> None:
    values: list[Any] = ["-created_at", "2020-01-01T00:00:00+00:00", 5, 0]
    assert decode_cursor(_signed(json.dumps(values).encode())) == Cursor(*values)


def test_boolean_sort_values_round_trip_and_nothing_else_reads_as_one() -> None:
    assert [parse_bool(value_text(flag)) for flag in (True, False)] == [True, False]
    for text in ("true", "TRUE", "false", "FALSE", "1", "", "XXTrueXX"):
        with pytest.raises(ValueError, match=r"^not a boolean$"):
            parse_bool(text)
