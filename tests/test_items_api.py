from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import auth_headers, make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
ITEMS = "/api/v1/items"


async def test_create_item_is_owned_by_caller(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await make_user(session)
    other = await make_user(session)
    response = await client.post(
        ITEMS,
        json={"title": " Lamp ", "price": 12.5, "owner_id": other.id},
        headers=auth_headers(owner),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["owner_id"] == owner.id
    assert body["title"] == "Lamp"
    assert body["price"] == "12.50"
    assert body["created_at"].endswith("Z") or "+00:00" in body["created_at"]


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "x", "price": -1},
        {"title": "x", "price": "1.001"},
        {"title": "x", "price": "NaN"},
        {"title": "x", "price": True},
        {"title": "x", "price": "123456789.00"},
        {"title": "", "price": 1},
        {"title": "x" * 201, "price": 1},
        {"title": "nul\x00byte", "price": 1},
        {"price": 1},
    ],
)
async def test_invalid_item_is_rejected(
    client: httpx.AsyncClient, session: AsyncSession, payload: dict[str, object]
) -> None:
    user = await make_user(session)
    response = await client.post(ITEMS, json=payload, headers=auth_headers(user))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["field"].startswith("body")


@pytest.mark.parametrize("price", [-1, -0.5, "-1", "-0.50", "-99999999.99"])
async def test_negative_price_is_refused_as_below_zero(
    client: httpx.AsyncClient, session: AsyncSession, price: object
) -> None:
    # As a number or a string, a negative price is refused for its sign, not its shape.
    user = await make_user(session)
    response = await client.post(
        ITEMS, json={"title": "x", "price": price}, headers=auth_headers(user)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"] == [
        {"field": "body.price", "message": "Input should be greater than or equal to 0"}
    ]


async def test_create_item_requires_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, json={"title": "x", "price": 1})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_malformed_json_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    headers = {**auth_headers(user), "content-type": "application/json"}
    response = await client.post(ITEMS, content=b'{"title": "x", ', headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_read_item_is_public(client: httpx.AsyncClient, session: AsyncSession) -> None:
    item = await make_item(session, await make_user(session), price=Decimal("3.10"))
    response = await client.get(f"{ITEMS}/{item.id}")
    assert response.status_code == 200
    assert response.json()["price"] == "3.10"


@pytest.mark.parametrize("item_id", ["0", "2147483648", "99999999999999999999"])
async def test_out_of_range_item_id_is_a_validation_error(
    client: httpx.AsyncClient, item_id: str
) -> None:
    response = await client.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 422


@pytest.mark.parametrize("item_id", ["-1", "abc", "1e3", "0x1"])
async def test_non_numeric_item_id_names_no_item(client: httpx.AsyncClient, item_id: str) -> None:
    response = await client.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_missing_item_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ITEMS}/2147483647")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "Item not found",
        "details": {},
    }


async def test_owner_updates_item(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    item = await make_item(session, owner)
    response = await client.patch(
        f"{ITEMS}/{item.id}",
        json={"price": "20", "description": "new"},
        headers=auth_headers(owner),
    )
    assert response.status_code == 200
    assert response.json()["price"] == "20.00"
    assert response.json()["description"] == "new"
    assert response.json()["title"] == item.title


async def test_null_title_is_rejected_on_update(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await make_user(session)
    item = await make_item(session, owner)
    response = await client.patch(
        f"{ITEMS}/{item.id}", json={"title": None}, headers=auth_headers(owner)
    )
    assert response.status_code == 422


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_other_users_item_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, method: str
) -> None:
    item = await make_item(session, await make_user(session))
    intruder = await make_user(session)
    response = await client.request(
        method, f"{ITEMS}/{item.id}", json={"title": "mine"}, headers=auth_headers(intruder)
    )
    assert response.status_code == 404
    assert (await client.get(f"{ITEMS}/{item.id}")).json()["title"] == item.title


async def test_superuser_may_change_any_item(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    item = await make_item(session, await make_user(session))
    admin = await make_user(session, is_superuser=True)
    response = await client.delete(f"{ITEMS}/{item.id}", headers=auth_headers(admin))
    assert response.status_code == 200
    assert response.json() == {"message": "Item deleted", "success": True}
    assert (await client.get(f"{ITEMS}/{item.id}")).status_code == 404


async def test_list_items_paginates(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    for n in range(5):
        await make_item(session, owner, title=f"Page {n}")
    response = await client.get(ITEMS, params={"owner_id": owner.id, "page": 2, "page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 5
    assert body["page"] == 2
    assert body["page_size"] == 2
    assert body["total_pages"] == 3
    assert len(body["items"]) == 2


@pytest.mark.parametrize(
    "params",
    [{"page_size": 101}, {"page_size": 0}, {"page": 0}, {"sort": "owner_id"}, {"min_price": "-1"}],
)
async def test_bad_list_parameters_are_rejected(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    response = await client.get(ITEMS, params=params)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["field"].startswith("query")


async def test_list_items_filters(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    other = await make_user(session)
    cheap = await make_item(session, owner, title="Oak chair", price=Decimal("5.00"))
    await make_item(
        session, owner, title="Steel desk", description="with oak top", price=Decimal("50")
    )
    await make_item(session, owner, title="Glass vase", price=Decimal("500"))
    await make_item(session, other, title="Oak table", price=Decimal("7"))

    async def ids(**params: object) -> list[str]:
        response = await client.get(ITEMS, params={"owner_id": owner.id, "sort": "price", **params})
        assert response.status_code == 200
        return [item["title"] for item in response.json()["items"]]

    assert await ids(q="OAK") == ["Oak chair", "Steel desk"]
    assert await ids(min_price="10", max_price="100") == ["Steel desk"]
    assert await ids(max_price="5") == [cheap.title]
    assert await ids(q="%") == []  # LIKE wildcards are matched literally


async def test_sorts_break_ties_by_id(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    made = [await make_item(session, owner, title="Same", price=Decimal("1")) for _ in range(3)]
    ids = [item.id for item in made]
    for sort, expected in [
        ("price", ids),
        ("-price", ids[::-1]),
        ("title", ids),
        ("-title", ids[::-1]),
    ]:
        response = await client.get(ITEMS, params={"owner_id": owner.id, "sort": sort})
        assert [item["id"] for item in response.json()["items"]] == expected, sort


async def test_default_sort_is_newest_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await make_user(session)
    made = [await make_item(session, owner) for _ in range(3)]
    response = await client.get(ITEMS, params={"owner_id": owner.id})
    assert [item["id"] for item in response.json()["items"]] == [i.id for i in reversed(made)]


async def test_trailing_slash_is_not_redirected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ITEMS}/")
    assert response.status_code == 404
