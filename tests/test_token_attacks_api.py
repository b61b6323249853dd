"""Forged, expired, malformed and wrong-purpose tokens: every one is a 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import security
from app.core.security import (
    TokenType,
    create_access_token,
    create_email_verification_token,
    create_password_reset_token,
    create_refresh_token,
    encode_token,
)
from app.models.user import User
from tests.factories import auth_headers, make_user
from tests.test_auth_api import AUTH, ME, assert_unauthorized, bearer, login

pytestmark = pytest.mark.usefixtures("database_url")


def _token_of(purpose: TokenType, user: User) -> str:
    if purpose is TokenType.ACCESS:
        return create_access_token(user.id, extra_claims={"ver": user.token_version})
    if purpose is TokenType.REFRESH:
        return create_refresh_token(user.id)
    if purpose is TokenType.EMAIL_VERIFICATION:
        return create_email_verification_token(user.id, email=user.email)
    return create_password_reset_token(user.id, hashed_password=user.hashed_password)


async def _present(client: httpx.AsyncClient, purpose: TokenType, token: str) -> httpx.Response:
    """Use a token where one of `purpose` is expected."""
    if purpose is TokenType.ACCESS:
        return await client.get(ME, headers=bearer(token))
    if purpose is TokenType.REFRESH:
        return await client.post(f"{AUTH}/refresh", json={"refresh_token": token})
    if purpose is TokenType.EMAIL_VERIFICATION:
        return await client.post(f"{AUTH}/verify-email", json={"token": token})
    body = {"token": token, "new_password": "Another-Pass-2"}
    return await client.post(f"{AUTH}/password-reset", json=body)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(given, expected) for given in TokenType for expected in TokenType if given is not expected],
)
async def test_a_token_is_refused_for_every_other_purpose(
    client: httpx.AsyncClient, session: AsyncSession, given: TokenType, expected: TokenType
) -> None:
    user = await make_user(session, is_verified=False)
    assert_unauthorized(await _present(client, expected, _token_of(given, user)))
    await session.refresh(user)
    assert not user.is_verified
    await login(client, user.email)  # the password did not change


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)
    claims = jwt.decode(_token_of(TokenType.ACCESS, user), options={"verify_signature": False})
    for alg in ("none", "None", "NONE"):
        token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."
        assert_unauthorized(await client.get(ME, headers=bearer(token)))


async def test_tampered_token_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)
    admin = await make_user(session, is_superuser=True)
    header, payload, signature = _token_of(TokenType.ACCESS, user).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(admin.id)  # claim to be someone else, keep the old signature
    forged_payload = f"{header}.{_b64(claims)}.{signature}"
    flipped = "A" if signature[0] != "A" else "B"
    bad_signature = f"{header}.{payload}.{flipped}{signature[1:]}"
    for token in (forged_payload, bad_signature):
        assert_unauthorized(await client.get(ME, headers=bearer(token)))


async def test_expired_token_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)
    token = create_access_token(user.id, expires_delta=timedelta(seconds=-1))
    response = await client.get(ME, headers=bearer(token))
    assert_unauthorized(response)
    assert response.json()["error"]["message"] == "Token has expired"


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "a.b", "", "Bearer", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000, "é.é.é"],
)
async def test_malformed_token_is_refused(client: httpx.AsyncClient, token: str) -> None:
    header = f"Bearer {token}".encode()  # raw bytes: non-ASCII reaches the server as sent
    assert_unauthorized(await client.get(ME, headers={b"Authorization": header}))


# The test key is shorter than HS384/HS512 recommend; PyJWT warns, which is beside the point.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_token_signed_with_another_algorithm_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    claims = {"sub": str(user.id), "type": "access", "ver": 0, "iat": 1, "exp": 2**40}
    key = get_settings().signing_key
    for algorithm in ("HS384", "HS512"):
        token = jwt.encode(claims, key, algorithm=algorithm)
        assert_unauthorized(await client.get(ME, headers=bearer(token)))


async def test_token_without_a_purpose_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    claims = {"sub": str(user.id), "iat": 1, "exp": 2**40}
    token = jwt.encode(claims, get_settings().signing_key, algorithm="HS256")
    assert_unauthorized(await client.get(ME, headers=bearer(token)))
    typed = encode_token(user.id, TokenType.ACCESS, timedelta(minutes=1), {"type": "admin"})
    assert jwt.decode(typed, options={"verify_signature": False})["type"] == "access"


async def test_a_token_accepted_before_is_refused_once_it_expires(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified tokens are remembered, but their expiry is checked on every use."""
    user = await make_user(session)
    headers = auth_headers(user)  # valid for ACCESS_TOKEN_EXPIRE_MINUTES
    assert (await client.get(ME, headers=headers)).status_code == 200
    next_year = time.time() + 365 * 86400
    monkeypatch.setattr(security, "time", SimpleNamespace(time=lambda: next_year))
    response = await client.get(ME, headers=headers)
    assert_unauthorized(response)
    assert response.json()["error"]["message"] == "Token has expired"


@pytest.mark.parametrize("value", ["soon", 1e400, True, None])
async def test_token_with_a_malformed_expiry_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, value: object
) -> None:
    user = await make_user(session)
    claims = {"sub": str(user.id), "type": "access", "ver": 0, "iat": 1, "exp": value}
    token = jwt.encode(claims, get_settings().signing_key, algorithm="HS256")
    assert_unauthorized(await client.get(ME, headers=bearer(token)))


async def test_tokens_signed_with_a_replaced_key_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, set_env: Callable[..., None]
) -> None:
    user = await make_user(session)
    headers = auth_headers(user)
    assert (await client.get(ME, headers=headers)).status_code == 200
    set_env(SECRET_KEY="a-new-secret-key-after-rotation-long-enough-for-hs256")
    assert_unauthorized(await client.get(ME, headers=headers))
