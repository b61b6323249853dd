"""Login, refresh rotation, logout, and the attacker's token cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import bcrypt
import httpx
import jwt
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core.security import (
    create_refresh_token,
    decode_refresh_token,
    hash_token,
)
from app.db.base import utcnow
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.services.auth import AuthService
from app.services.user import UserService
from tests.factories import PASSWORD, auth_headers, make_user

pytestmark = pytest.mark.usefixtures("database_url")
AUTH = "/api/v1/auth"
ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def stored_tokens(session: AsyncSession, user: User) -> Sequence[RefreshToken]:
    query = select(RefreshToken).where(RefreshToken.user_id == user.id).order_by(RefreshToken.id)
    return (await session.scalars(query)).all()


def message(response: httpx.Response) -> str:
    text: str = response.json()["error"]["message"]
    return text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def test_login_with_the_oauth2_form(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)
    response = await client.post(
        f"{AUTH}/login", data={"username": user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().access_token_expire_minutes * 60
    me = await client.get(ME, headers=bearer(body["access_token"]))
    assert me.json()["id"] == user.id


async def test_login_with_json(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)
    tokens = await login(client, user.email)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["type"] == "access"
    assert claims["sub"] == str(user.id)
    assert {"exp", "iat"} <= set(claims)


async def test_wrong_password_and_unknown_email_answer_alike(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    wrong = await client.post(f"{AUTH}/login", json={"email": user.email, "password": "Nope12345"})
    unknown = await client.post(
        f"{AUTH}/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert_unauthorized(wrong)
    assert_unauthorized(unknown)
    assert wrong.content == unknown.content


async def test_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, is_active=False)
    response = await client.post(f"{AUTH}/login", json={"email": user.email, "password": PASSWORD})
    assert_unauthorized(response)


async def test_bcrypt_hash_verifies_and_is_upgraded_to_argon2id(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    user = await make_user(session, hashed_password=legacy)
    await login(client, user.email)
    await session.refresh(user)
    assert user.hashed_password.startswith("$argon2id$")
    await login(client, user.email)  # the new hash verifies the same password
    bad = await client.post(f"{AUTH}/login", json={"email": user.email, "password": "Wrong1234"})
    assert_unauthorized(bad)


async def test_refresh_rotates_and_a_replayed_token_revokes_the_family(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    first = await login(client, user.email)
    second = await client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    newer = second.json()
    assert newer["refresh_token"] != first["refresh_token"]
    # The rotated token names the same user and family as the one it replaces.
    claims = [decode_refresh_token(t["refresh_token"]) for t in (first, newer)]
    assert [(c["sub"], c["fam"]) for c in claims] == [(str(user.id), claims[0]["fam"])] * 2
    stored = await session.scalar(
        select(RefreshToken.family_id).where(
            RefreshToken.token_hash == hash_token(newer["refresh_token"])
        )
    )
    assert stored == claims[0]["fam"]

    replay = await client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]})
    assert_unauthorized(replay)
    assert message(replay) == "Refresh token reuse detected; the session has been revoked"
    # The thief's replay also kills the legitimate descendant: the whole family is gone.
    after = await client.post(f"{AUTH}/refresh", json={"refresh_token": newer["refresh_token"]})
    assert_unauthorized(after)
    assert message(after) == "Refresh token has been revoked or has expired"
    rows = await stored_tokens(session, user)
    assert len(rows) == 2
    assert all(row.revoked_at is not None for row in rows)


async def test_refresh_is_refused_while_the_account_is_disabled(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The check itself: the flag set in the database, with no session revoked."""
    user = await make_user(session)
    tokens = await login(client, user.email)
    body = {"refresh_token": tokens["refresh_token"]}
    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    refused = await client.post(f"{AUTH}/refresh", json=body)
    assert_unauthorized(refused)
    assert refused.json()["error"]["message"] == "Account is disabled"
    # The refusal spent and revoked nothing: the flag alone stood in the way.
    await session.execute(update(User).where(User.id == user.id).values(is_active=True))
    assert (await client.post(f"{AUTH}/refresh", json=body)).status_code == 200


async def test_other_sessions_survive_a_revoked_family(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    phone, laptop = await login(client, user.email), await login(client, user.email)
    await client.post(f"{AUTH}/refresh", json={"refresh_token": phone["refresh_token"]})
    await client.post(f"{AUTH}/refresh", json={"refresh_token": phone["refresh_token"]})
    response = await client.post(f"{AUTH}/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert response.status_code == 200


async def test_logout_revokes_the_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    tokens = await login(client, user.email)
    response = await client.post(f"{AUTH}/logout", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    again = await client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_unauthorized(again)


async def test_a_refresh_token_past_its_stored_expiry_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The stored expiry rules, even while the token's own `exp` is still ahead."""
    user = await make_user(session)
    tokens = await login(client, user.email)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    refused = await client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_unauthorized(refused)
    assert message(refused) == "Refresh token has been revoked or has expired"
    rows = await stored_tokens(session, user)
    assert [(row.used_at, row.revoked_at) for row in rows] == [(None, None)]  # nothing issued


async def test_a_second_logout_keeps_the_first_revocation_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    body = {"refresh_token": (await login(client, user.email))["refresh_token"]}
    query = select(RefreshToken.revoked_at).where(RefreshToken.user_id == user.id)
    assert (await client.post(f"{AUTH}/logout", json=body)).status_code == 204
    first = await session.scalar(query)
    assert first is not None
    assert (await client.post(f"{AUTH}/logout", json=body)).status_code == 204
    assert await session.scalar(query) == first


async def test_purging_deletes_expired_refresh_tokens_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    expired, current = await login(client, user.email), await login(client, user.email)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hash_token(expired["refresh_token"]))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert await AuthService(UserService(session)).purge_expired() == 1
    kept = await session.scalars(
        select(RefreshToken.token_hash).where(RefreshToken.user_id == user.id)
    )
    assert kept.all() == [hash_token(current["refresh_token"])]


async def test_logout_of_an_unknown_or_forged_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    never_stored = create_refresh_token(user.id)
    forged = jwt.encode(
        {"sub": str(user.id), "type": "refresh", "fam": "x", "iat": 1, "exp": 2**40},
        "another-secret-key-of-at-least-thirty-two-bytes",
        algorithm="HS256",
    )
    for token in (never_stored, forged, "not-a-token"):
        assert_unauthorized(await client.post(f"{AUTH}/logout", json={"refresh_token": token}))
    unknown = await client.post(f"{AUTH}/logout", json={"refresh_token": never_stored})
    assert message(unknown) == "Invalid refresh token"


async def test_logout_all_revokes_access_and_refresh_tokens(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    tokens = await login(client, user.email)
    other = await login(client, user.email)
    response = await client.post(f"{AUTH}/logout-all", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    for access in (tokens["access_token"], other["access_token"]):
        assert_unauthorized(await client.get(ME, headers=bearer(access)))
    refresh = await client.post(f"{AUTH}/refresh", json={"refresh_token": other["refresh_token"]})
    assert_unauthorized(refresh)
    fresh = await login(client, user.email)
    assert (await client.get(ME, headers=bearer(fresh["access_token"]))).status_code == 200


async def test_password_change_revokes_every_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    tokens = await login(client, user.email)
    changed = await client.patch(
        ME,
        json={"password": "Brand-New-Pass1", "current_password": PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    assert_unauthorized(await client.get(ME, headers=bearer(tokens["access_token"])))
    refresh = await client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_unauthorized(refresh)
    await login(client, user.email, "Brand-New-Pass1")


async def test_password_change_needs_the_current_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    response = await client.patch(
        ME,
        json={"password": "Brand-New-Pass1", "current_password": "Wrong-Pass-1"},
        headers=auth_headers(user),
    )
    assert response.status_code == 403
    await login(client, user.email)  # unchanged
