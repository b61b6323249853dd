"""Lists declared with `Listing`: the users' search and the declaration's own checks."""

from __future__ import annotations

from typing import Literal

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.item import Item
from app.services.pagination import Listing, equals
from tests.factories import auth_headers, make_user

USERS = "/api/v1/users"


@pytest.mark.usefixtures("database_url")
async def test_superuser_searches_users_by_email_or_name(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True)
    by_email = await make_user(session, email="zebra_1%@example.com", full_name="Someone")
    by_name = await make_user(session, full_name="Ann Zebra_1%")
    await make_user(session, email="zebra11@example.com", full_name="Not a match")
    response = await client.get(USERS, params={"q": "ZEBRA_1%"}, headers=auth_headers(admin))
    assert response.status_code == 200, response.text
    found = response.json()["items"]
    assert [user["id"] for user in found] == [by_email.id, by_name.id]
    assert all("hashed_password" not in user and "token_version" not in user for user in found)


@pytest.mark.usefixtures("database_url")
async def test_users_filter_by_flags_and_walk_by_cursor_in_email_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(session, is_superuser=True, email="aaa-admin@example.com")
    disabled = [
        await make_user(session, is_active=False, email=f"off-{n}@example.com") for n in (3, 1, 2)
    ]
    params = {"is_active": "false", "sort": "-email", "page_size": 2}
    first = (await client.get(USERS, params=params, headers=auth_headers(admin))).json()
    second = (
        await client.get(
            USERS, params={**params, "cursor": first["next_cursor"]}, headers=auth_headers(admin)
        )
    ).json()
    emails = [user["email"] for user in first["items"] + second["items"]]
    expected = sorted((user.email for user in disabled), reverse=True)
    assert emails[: len(expected)] == expected
    assert all(not user["is_active"] for user in first["items"] + second["items"])
    admins = await client.get(USERS, params={"is_superuser": "true"}, headers=auth_headers(admin))
    assert admin.id in [user["id"] for user in admins.json()["items"]]
    assert all(user["is_superuser"] for user in admins.json()["items"])


@pytest.mark.usefixtures("database_url")
@pytest.mark.parametrize(
    "params", [{"sort": "hashed_password"}, {"is_active": "maybe"}, {"q": "x" * 201}]
)
async def test_user_list_refuses_bad_parameters(
    client: httpx.AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    admin = await make_user(session, is_superuser=True)
    response = await client.get(USERS, params=params, headers=auth_headers(admin))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class _Query(BaseModel):
    title: str | None = None
    sort: Literal["title", "-title"] = "title"


def test_a_filter_without_a_condition_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match=r"_Query filters by \['title'\]"):
        Listing(Item.__table__, _Query)


def test_a_sort_that_is_not_a_literal_is_refused_at_declaration() -> None:
    class Unsorted(BaseModel):
        sort: str = "title"

    with pytest.raises(TypeError, match="must be a Literal"):
        Listing(Item.__table__, Unsorted)


def test_filter_names_that_paging_uses_are_refused() -> None:
    class Limited(BaseModel):
        limit: int | None = None
        sort: Literal["title"] = "title"

    with pytest.raises(TypeError, match="taken by paging"):
        Listing(Item.__table__, Limited, filters={"limit": equals(Item.__table__.c.price)})


def test_sorts_get_cursor_parsers_from_their_column_types() -> None:
    listing = Listing(Item.__table__, _Query, filters={"title": equals(Item.__table__.c.title)})
    assert listing.sort_keys["-title"].parse("Lamp") == "Lamp"
    assert listing.sort_keys["-title"].descending
