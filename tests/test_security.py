"""Token decoding, unit by unit: each refusal and the reason it gives."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from app.config import get_settings
from app.core.security import (
    TokenType,
    create_access_token,
    create_password_reset_token,
    decode_refresh_token,
    decode_token,
    encode_token,
    password_digest,
    password_reset_token_matches,
)
from app.exceptions import UnauthorizedError

STORED_HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA"


def _refused(token: str, token_type: TokenType = TokenType.ACCESS) -> str:
    with pytest.raises(UnauthorizedError) as refused:
        decode_token(token, token_type)
    return refused.value.message


def _signed(claims: dict[str, object]) -> str:
    settings = get_settings()
    return jwt.encode(claims, settings.signing_key, algorithm=settings.algorithm)


def test_each_refusal_names_its_reason() -> None:
    access = create_access_token(7)
    assert _refused(access[:-2] + "xx") == "Invalid token"  # signature
    assert _refused("not-a-jwt") == "Invalid token"
    assert _refused(access, TokenType.REFRESH) == "Invalid token"  # purpose
    assert _refused(_signed({"sub": 7, "type": "access", "iat": 1, "exp": 2**40})) == (
        "Invalid token"  # `sub` must be a string
    )
    expired = create_access_token(7, expires_delta=timedelta(seconds=-1))
    assert _refused(expired) == "Token has expired"
    assert decode_token(access, TokenType.ACCESS)["sub"] == "7"


def test_a_refresh_token_must_name_its_family() -> None:
    token = encode_token(7, TokenType.REFRESH, timedelta(minutes=5), {"fam": 12})
    with pytest.raises(UnauthorizedError) as refused:
        decode_refresh_token(token)
    assert refused.value.message == "Invalid token"


def test_a_reset_token_issued_before_a_deploy_still_matches() -> None:
    # The digest of a stored hash under the suite's SECRET_KEY (see conftest): reset
    # links already sent keep working across releases.
    assert password_digest(STORED_HASH) == "1f78d2e0053ffbdf7f8654a2152c29fc"
    claims = decode_token(
        create_password_reset_token(7, hashed_password=STORED_HASH), TokenType.PASSWORD_RESET
    )
    assert password_reset_token_matches(claims, STORED_HASH)
    assert not password_reset_token_matches(claims, STORED_HASH + "x")
    assert not password_reset_token_matches({}, STORED_HASH)
