from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.item import Item
from app.models.user import User
from tests.factories import PASSWORD, auth_headers, make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
USERS = "/api/v1/users"


async def test_registration_creates_a_plain_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        USERS,
        json={
            "email": "New.User@Example.com",
            "password": PASSWORD,
            "full_name": "New User",
            "is_superuser": True,
            "is_verified": True,
            "is_active": False,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "new.user@example.com"
    assert body["is_superuser"] is False
    assert body["is_verified"] is False
    assert body["is_active"] is True
    assert "hashed_password" not in body
    assert "password" not in body


async def test_duplicate_email_in_another_case_conflicts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await make_user(session, email="taken@example.com")
    response = await client.post(USERS, json={"email": "TAKEN@example.COM", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "CONFLICT",
        "message": "Email already registered",
        "details": {},
    }


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short1", "at least 8"),
        ("alllowercase1", "upper-case"),
        ("ALLUPPERCASE1", "lower-case"),
        ("NoDigitsHere", "digit"),
        ("Aa1" + "x" * 126, "at most 128"),
    ],
)
async def test_weak_password_is_rejected(
    client: httpx.AsyncClient, password: str, why: str
) -> None:
    response = await client.post(USERS, json={"email": "weak@example.com", "password": password})
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert errors[0]["field"] == "body.password"
    assert why in errors[0]["message"]


@pytest.mark.parametrize("email", ["not-an-email", "", "a@b", None, 42])
async def test_invalid_email_is_rejected(client: httpx.AsyncClient, email: object) -> None:
    response = await client.post(USERS, json={"email": email, "password": PASSWORD})
    assert response.status_code == 422


async def test_me_returns_profile_with_recent_items(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    for n in range(102):
        await make_item(session, user, title=f"Thing {n}")
    response = await client.get(f"{USERS}/me", headers=auth_headers(user))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.id
    assert len(body["items"]) == 100
    assert body["items"][0]["title"] == "Thing 101"  # newest first
    assert "hashed_password" not in body


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
async def test_me_needs_a_valid_token(client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(f"{USERS}/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_token_of_deleted_user_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    headers = auth_headers(user)
    assert (await client.delete(f"{USERS}/me", headers=headers)).status_code == 200
    assert (await client.get(f"{USERS}/me", headers=headers)).status_code == 401


async def test_disabled_user_is_forbidden(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, is_active=False)
    response = await client.get(f"{USERS}/me", headers=auth_headers(user))
    assert response.status_code == 403


async def test_update_me_changes_profile_but_not_roles(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    response = await client.patch(
        f"{USERS}/me",
        json={"full_name": "Renamed", "bio": "Hello", "is_superuser": True},
        headers=auth_headers(user),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["full_name"], body["bio"], body["is_superuser"]) == ("Renamed", "Hello", False)


async def test_password_change_needs_current_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    headers = auth_headers(user)
    missing = await client.patch(f"{USERS}/me", json={"password": "NewPassw0rd"}, headers=headers)
    assert missing.status_code == 422
    wrong = await client.patch(
        f"{USERS}/me",
        json={"password": "NewPassw0rd", "current_password": "Wrong-Pass-1"},
        headers=headers,
    )
    assert wrong.status_code == 403  # the token is fine: a 401 would sign the client out
    assert wrong.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "Current password is incorrect",
        "details": {},
    }
    assert (await client.get(f"{USERS}/me", headers=headers)).status_code == 200


async def test_password_change_revokes_tokens_and_allows_new_login(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    headers = auth_headers(user)
    response = await client.patch(
        f"{USERS}/me",
        json={"password": "NewPassw0rd", "current_password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 200
    assert (await client.get(f"{USERS}/me", headers=headers)).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "NewPassw0rd"}
    )
    assert login.status_code == 200


async def test_read_other_user(client: httpx.AsyncClient, session: AsyncSession) -> None:
    me = await make_user(session)
    other = await make_user(session)
    response = await client.get(f"{USERS}/{other.id}", headers=auth_headers(me))
    assert response.status_code == 200
    assert response.json()["email"] == other.email
    missing = await client.get(f"{USERS}/2147483647", headers=auth_headers(me))
    assert missing.status_code == 404


async def test_user_items_are_paginated(client: httpx.AsyncClient, session: AsyncSession) -> None:
    me = await make_user(session)
    owner = await make_user(session)
    for _ in range(3):
        await make_item(session, owner)
    await make_item(session, me)
    response = await client.get(
        f"{USERS}/{owner.id}/items", params={"page_size": 2}, headers=auth_headers(me)
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["total_pages"], len(body["items"])) == (3, 2, 2)
    assert {item["owner_id"] for item in body["items"]} == {owner.id}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ""), ("PATCH", "/{id}"), ("DELETE", "/{id}")],
)
async def test_admin_routes_are_forbidden_to_plain_users(
    client: httpx.AsyncClient, session: AsyncSession, method: str, path: str
) -> None:
    user = await make_user(session)
    victim = await make_user(session)
    response = await client.request(
        method,
        USERS + path.format(id=victim.id),
        json={"is_superuser": True},
        headers=auth_headers(user),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    await session.refresh(victim)
    assert victim.is_superuser is False


async def test_superuser_lists_users(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await make_user(session, is_superuser=True)
    for _ in range(3):
        await make_user(session)
    response = await client.get(USERS, params={"page_size": 2}, headers=auth_headers(admin))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] >= 4
    assert len(body["items"]) == 2
    too_big = await client.get(USERS, params={"page_size": 101}, headers=auth_headers(admin))
    assert too_big.status_code == 422


async def test_superuser_sets_roles(client: httpx.AsyncClient, session: AsyncSession) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session, is_verified=False)
    response = await client.patch(
        f"{USERS}/{user.id}",
        json={"is_superuser": True, "is_verified": True, "is_active": False},
        headers=auth_headers(admin),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["is_superuser"], body["is_verified"], body["is_active"]) == (True, True, False)


@pytest.mark.parametrize(
    "payload",
    [{"is_superuser": "yes"}, {"is_admin": True}, {"is_active": None}, {"email": "bad"}],
)
async def test_admin_update_refuses_bad_fields(
    client: httpx.AsyncClient, session: AsyncSession, payload: dict[str, object]
) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session)
    response = await client.patch(f"{USERS}/{user.id}", json=payload, headers=auth_headers(admin))
    assert response.status_code == 422


async def test_admin_cannot_take_an_email_in_use(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session)
    response = await client.patch(
        f"{USERS}/{user.id}", json={"email": admin.email.upper()}, headers=auth_headers(admin)
    )
    assert response.status_code == 409


async def test_deleting_a_user_deletes_their_items(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session)
    for _ in range(3):
        await make_item(session, user)
    response = await client.delete(f"{USERS}/{user.id}", headers=auth_headers(admin))
    assert response.status_code == 200
    assert response.json() == {"message": "User deleted", "success": True}
    count = await session.scalar(select(func.count()).where(Item.owner_id == user.id))
    assert count == 0
    assert await session.scalar(select(User.id).where(User.id == user.id)) is None
    again = await client.delete(f"{USERS}/{user.id}", headers=auth_headers(admin))
    assert again.status_code == 404


async def test_disabling_a_user_ends_their_sessions_for_good(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    user = await make_user(session)
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert login.status_code == 200
    tokens = login.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get(f"{USERS}/me", headers=bearer)).status_code == 200
    for active in (False, True):
        response = await client.patch(
            f"{USERS}/{user.id}", json={"is_active": active}, headers=auth_headers(admin)
        )
        assert response.status_code == 200
    # Enabled again, but the tokens issued before the account was disabled stay dead.
    assert (await client.get(f"{USERS}/me", headers=bearer)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
