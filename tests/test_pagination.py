"""Cursor (keyset) pagination, page numbers, and totals that stay exact when small."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cursor import MAX_CURSOR_LENGTH, Cursor, encode_cursor
from app.models.user import User
from app.services import totals
from tests.factories import auth_headers, make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
ITEMS = "/api/v1/items"
SORTS = ["created_at", "-created_at", "price", "-price", "title", "-title"]


async def _owner_with_items(session: AsyncSession, count: int = 7) -> User:
    owner = await make_user(session)
    for n in range(count):  # repeated prices and titles: ties must break by id
        await make_item(session, owner, title=f"Item {n % 3}", price=Decimal(n % 2 + 1))
    return owner


async def _walk(client: httpx.AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page, following next_cursor from the first."""
    pages = []
    cursor = None
    for _ in range(20):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(ITEMS, params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("cursor pagination did not end")


@pytest.mark.parametrize("sort", SORTS)
async def test_cursor_walk_matches_one_big_page(
    client: httpx.AsyncClient, session: AsyncSession, sort: str
) -> None:
    owner = await _owner_with_items(session)
    everything = await client.get(
        ITEMS, params={"owner_id": owner.id, "sort": sort, "page_size": 100}
    )
    expected = [item["id"] for item in everything.json()["items"]]

    pages = await _walk(client, {"owner_id": owner.id, "sort": sort, "page_size": 3})

    assert [item["id"] for page in pages for item in page["items"]] == expected
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert all(page["total"] == 7 and page["total_exact"] for page in pages)


async def test_page_numbers_and_cursors_agree(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await _owner_with_items(session)
    params = {"owner_id": owner.id, "page_size": 3}
    first = (await client.get(ITEMS, params=params)).json()
    by_cursor = (await client.get(ITEMS, params={**params, "cursor": first["next_cursor"]})).json()
    by_page = (await client.get(ITEMS, params={**params, "page": 2})).json()
    assert by_cursor["items"] == by_page["items"]
    assert by_cursor["next_cursor"] == by_page["next_cursor"]
    assert by_page["page"] == 2


async def test_small_totals_are_exact(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = await _owner_with_items(session, count=5)
    for page, size, count in [(1, 2, 2), (3, 2, 1), (1, 5, 5), (9, 2, 0)]:
        body = (
            await client.get(ITEMS, params={"owner_id": owner.id, "page": page, "page_size": size})
        ).json()
        assert (body["total"], body["total_exact"], body["total_pages"]) == (
            5,
            True,
            3 if size == 2 else 1,
        )
        assert len(body["items"]) == count
    last = (
        await client.get(ITEMS, params={"owner_id": owner.id, "page": 3, "page_size": 2})
    ).json()
    assert last["next_cursor"] is None


async def test_large_totals_are_estimated_on_postgresql(
    client: httpx.AsyncClient,
    session: AsyncSession,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(totals, "EXACT_COUNT_LIMIT", 3)
    owner = await _owner_with_items(session, count=6)
    params = {"owner_id": owner.id, "page_size": 2}
    body = (await client.get(ITEMS, params=params)).json()
    if database_url.startswith("postgresql"):
        assert body["total_exact"] is False  # more than the limit: the planner's estimate
        assert body["total"] >= 4
    else:
        assert (body["total"], body["total_exact"]) == (6, True)  # SQLite always counts
    exact = (await client.get(ITEMS, params={**params, "exact_total": "true"})).json()
    assert (exact["total"], exact["total_exact"], exact["total_pages"]) == (6, True, 3)
    # A last page that is not full tells the exact total by itself, estimate or not.
    wide = {**params, "page_size": 4}
    cursor = (await client.get(ITEMS, params=wide)).json()["next_cursor"]
    last = (await client.get(ITEMS, params={**wide, "cursor": cursor})).json()
    assert (last["total"], last["total_exact"], len(last["items"])) == (6, True, 2)


async def test_user_items_paginate_by_cursor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await _owner_with_items(session, count=5)
    url = f"/api/v1/users/{owner.id}/items"
    headers = auth_headers(owner)
    first = (await client.get(url, params={"page_size": 3}, headers=headers)).json()
    second = (
        await client.get(
            url, params={"page_size": 3, "cursor": first["next_cursor"]}, headers=headers
        )
    ).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert second["next_cursor"] is None
    assert (second["page"], second["total"]) == (2, 5)


def _tamper(token: str) -> str:
    """The same cursor with its position changed, under the original signature."""
    payload, tag = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body[3] += 100
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{forged}.{tag}"


async def test_bad_cursors_are_validation_errors(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await _owner_with_items(session, count=4)
    first = (await client.get(ITEMS, params={"owner_id": owner.id, "page_size": 2})).json()
    good = first["next_cursor"]
    unsigned = base64.urlsafe_b64encode(b'["-created_at","2020-01-01T00:00:00+00:00",1,0]').decode()
    other_sort = (
        await client.get(ITEMS, params={"owner_id": owner.id, "page_size": 2, "sort": "price"})
    ).json()
    for cursor in [
        "garbage",
        "a.b.c",
        unsigned,
        f"{unsigned}.AAAA",
        _tamper(good),
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "x" * 2000,
        "é.é",
    ]:
        response = await client.get(ITEMS, params={"cursor": cursor})
        assert response.status_code == 422, cursor
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [e["field"] for e in error["details"]["errors"]] == ["query.cursor"]
        if len(cursor) <= MAX_CURSOR_LENGTH:  # longer ones fail the query's own schema
            assert error["message"] == "Invalid cursor"
    wrong_sort = await client.get(ITEMS, params={"cursor": other_sort["next_cursor"]})
    assert wrong_sort.status_code == 422
    assert "sort=price" in wrong_sort.text


async def test_signed_cursor_with_impossible_values_is_refused(client: httpx.AsyncClient) -> None:
    # Signed by us (as if issued), but not a value this sort can hold: still a 422, never a 500.
    for cursor in [
        Cursor("-created_at", "not a date", 1, 0),
        Cursor("-created_at", "2020-01-01T00:00:00", 1, 0),  # naive
        Cursor("price", "NaN", 1, 0),
        Cursor("-created_at", "2020-01-01T00:00:00+00:00", 0, 0),
        Cursor("-created_at", "2020-01-01T00:00:00+00:00", 1, -5),
    ]:
        response = await client.get(
            ITEMS, params={"sort": cursor.sort, "cursor": encode_cursor(cursor)}
        )
        assert response.status_code == 422, cursor
        [error] = response.json()["error"]["details"]["errors"]
        assert error == {"field": "query.cursor", "message": "malformed cursor"}


async def test_a_cursor_after_the_first_row_at_the_start_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    # The smallest id and position a real cursor can carry.
    cursor = Cursor("-created_at", "2020-01-01T00:00:00+00:00", 1, 0)
    response = await client.get(ITEMS, params={"cursor": encode_cursor(cursor)})
    assert response.status_code == 200, response.text
    assert response.json()["page"] == 1


async def test_cursor_issued_under_another_signing_key_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, set_env: Callable[..., None]
) -> None:
    owner = await _owner_with_items(session, count=4)
    params = {"owner_id": owner.id, "page_size": 2}
    issued = (await client.get(ITEMS, params=params)).json()["next_cursor"]
    assert (await client.get(ITEMS, params={**params, "cursor": issued})).status_code == 200
    set_env(SECRET_KEY="a-new-secret-key-after-rotation-long-enough-for-hs256")
    response = await client.get(ITEMS, params={**params, "cursor": issued})
    assert response.status_code == 422, response.text
    [error] = response.json()["error"]["details"]["errors"]
    assert error == {"field": "query.cursor", "message": "cursor signature does not match"}
    # Cursors issued under the new key work as before.
    reissued = (await client.get(ITEMS, params=params)).json()["next_cursor"]
    assert reissued != issued
    assert (await client.get(ITEMS, params={**params, "cursor": reissued})).status_code == 200


async def test_a_full_last_page_has_no_next_cursor_and_page_sizes_may_change(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner = await _owner_with_items(session, count=4)
    params = {"owner_id": owner.id, "page_size": 2}
    first = (await client.get(ITEMS, params=params)).json()
    last = (await client.get(ITEMS, params={**params, "cursor": first["next_cursor"]})).json()
    assert (len(last["items"]), last["next_cursor"], last["total"]) == (2, None, 4)
    # The same cursor with a page size it does not divide: row 3 starts page 1 of 3.
    wider = await client.get(
        ITEMS, params={**params, "page_size": 3, "cursor": first["next_cursor"]}
    )
    assert wider.status_code == 200, wider.text
    assert (wider.json()["page"], len(wider.json()["items"])) == (1, 2)
