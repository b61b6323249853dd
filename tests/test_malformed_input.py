"""Input no schema describes: broken encodings and syntax, absurd sizes and numbers,
NUL characters, repeated parameters, wrong content types, cut-off uploads.

Each answers a 4xx in the error envelope, never a 5xx, and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.item import Item
from app.models.user import User
from tests.factories import PASSWORD, auth_headers, make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")
API = "/api/v1"
JSON = {"content-type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than any parser's recursion limit


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def assert_validation_error(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    errors: list[dict[str, str]] = error["details"]["errors"]
    assert errors
    return errors


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    return await make_user(session)


@pytest.fixture
async def item(session: AsyncSession, owner: User) -> Item:
    return await make_item(session, owner)


def json_routes(owner: User, item: Item) -> list[tuple[str, str]]:
    """Every route that reads a JSON body."""
    return [
        ("POST", f"{API}/users"),
        ("PATCH", f"{API}/users/me"),
        ("POST", f"{API}/items"),
        ("PATCH", f"{API}/items/{item.id}"),
        ("POST", f"{API}/auth/login"),
        ("POST", f"{API}/auth/refresh"),
        ("POST", f"{API}/auth/logout"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"title": "caf\xe9", "price": 1}', id="latin-1"),
        pytest.param(b"\xff\xfe\x00{", id="bytes"),
        pytest.param(DEEP, id="deeply-nested"),
        pytest.param(b'{"title": "x", "price": ' + b"9" * 5000 + b"}", id="5000-digit-number"),
        pytest.param(b'{"title": "x", ', id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_unparseable_json_bodies_are_validation_errors(
    client: httpx.AsyncClient, session: AsyncSession, owner: User, item: Item, body: bytes
) -> None:
    users, items = await _count(session, User), await _count(session, Item)
    headers = {**JSON, **auth_headers(owner)}
    for method, url in json_routes(owner, item):
        response = await client.request(method, url, content=body, headers=headers)
        assert_validation_error(response)
    assert (await _count(session, User), await _count(session, Item)) == (users, items)


async def test_surrogate_encoded_as_bytes_is_refused(
    client: httpx.AsyncClient, owner: User
) -> None:
    # Python's JSON parser decodes bytes with "surrogatepass": this arrives as "\ud800".
    body = b'{"title": "x\xed\xa0\x80", "price": 1}'
    response = await client.post(
        f"{API}/items", content=body, headers={**JSON, **auth_headers(owner)}
    )
    assert assert_validation_error(response)[0]["field"] == "body.title"


async def test_nesting_within_the_parser_limit_is_a_validation_error(
    client: httpx.AsyncClient, owner: User
) -> None:
    nested = b'{"title": ' + b"[" * 500 + b"]" * 500 + b', "price": 1}'
    response = await client.post(
        f"{API}/items", content=nested, headers={**JSON, **auth_headers(owner)}
    )
    assert assert_validation_error(response)[0]["field"] == "body.title"


@pytest.mark.parametrize(
    "price",
    [
        pytest.param(b"NaN", id="NaN"),
        pytest.param(b"Infinity", id="Infinity"),
        pytest.param(b"-Infinity", id="-Infinity"),
        pytest.param(b"1e400", id="overflows-to-infinity"),
        pytest.param(b"1e308", id="huge-float"),
        pytest.param(b"100000000", id="nine-digits"),
        pytest.param(b"18446744073709551616", id="2**64"),
        pytest.param(b"0.001", id="three-places"),
        pytest.param(b'"NaN"', id="string-NaN"),
        pytest.param(b'"Infinity"', id="string-Infinity"),
        pytest.param(b'"1e3"', id="string-exponent"),
        pytest.param(b'"1_000"', id="string-underscores"),
        pytest.param(b'" 1"', id="string-padded"),
        pytest.param(b'"-0"', id="string-negative-zero"),
        pytest.param(b"true", id="boolean"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[1]", id="array"),
    ],
)
async def test_absurd_prices_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, owner: User, item: Item, price: bytes
) -> None:
    headers = {**JSON, **auth_headers(owner)}
    created = await client.post(
        f"{API}/items", content=b'{"title": "x", "price": ' + price + b"}", headers=headers
    )
    assert assert_validation_error(created)[0]["field"].startswith("body.price")
    updated = await client.patch(
        f"{API}/items/{item.id}", content=b'{"price": ' + price + b"}", headers=headers
    )
    assert_validation_error(updated)
    await session.refresh(item)
    assert str(item.price) == "9.99"


@pytest.mark.parametrize(
    "params",
    [
        {"page": "10000001"},
        {"page": str(2**63)},
        {"page": "1e3"},
        {"page": "NaN"},
        {"page_size": "99999999999999999999"},
        {"owner_id": str(2**31)},
        {"owner_id": "-1"},
        {"min_price": "NaN"},
        {"min_price": "Infinity"},
        {"max_price": "1e400"},
        {"max_price": "100000000"},
        {"min_price": ""},
        {"q": "x" * 201},
        {"sort": "price; DROP TABLE items"},
    ],
)
async def test_absurd_query_parameters_are_refused(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/items", params=params)
    assert assert_validation_error(response)[0]["field"].startswith("query.")


@pytest.mark.parametrize("path_id", ["0", "2147483648", str(2**64)])
@pytest.mark.parametrize("route", ["items/{}", "users/{}", "users/{}/items"])
async def test_out_of_range_ids_in_paths_are_refused(
    client: httpx.AsyncClient, owner: User, route: str, path_id: str
) -> None:
    response = await client.get(f"{API}/{route.format(path_id)}", headers=auth_headers(owner))
    assert assert_validation_error(response)[0]["field"].startswith("path.")


@pytest.mark.parametrize("path_id", ["-1", "1e3", "NaN", "%FF", "1%00", "0x10", "\u0661"])
@pytest.mark.parametrize("route", ["items/{}", "users/{}", "users/{}/items"])
async def test_ids_that_are_not_numbers_name_nothing(
    client: httpx.AsyncClient, owner: User, route: str, path_id: str
) -> None:
    response = await client.get(f"{API}/{route.format(path_id)}", headers=auth_headers(owner))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


def string_inputs(owner: User, item: Item) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, url, valid JSON body, field): every string field of every JSON body."""
    register = {"email": "new@example.com", "password": PASSWORD, "full_name": "N", "bio": "B"}
    me = {"full_name": "N", "bio": "B", "password": "New-Password-1", "current_password": PASSWORD}
    create = {"title": "T", "description": "D", "price": "1.00"}
    login = {"email": owner.email, "password": PASSWORD}
    return [
        *[("POST", f"{API}/users", register, field) for field in register],
        *[("PATCH", f"{API}/users/me", me, field) for field in me],
        *[("POST", f"{API}/items", create, field) for field in ("title", "description")],
        *[("PATCH", f"{API}/items/{item.id}", create, field) for field in ("title", "description")],
        *[("POST", f"{API}/auth/login", login, field) for field in login],
        ("POST", f"{API}/auth/refresh", {"refresh_token": "x"}, "refresh_token"),
        ("POST", f"{API}/auth/logout", {"refresh_token": "x"}, "refresh_token"),
    ]


@pytest.mark.parametrize(
    "poison",
    [pytest.param("\x00", id="NUL"), pytest.param("\ud800", id="lone-surrogate")],
)
async def test_strings_no_database_can_store_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, owner: User, item: Item, poison: str
) -> None:
    users, items = await _count(session, User), await _count(session, Item)
    headers = {**JSON, **auth_headers(owner)}
    for method, url, body, field in string_inputs(owner, item):
        value = body[field]
        poisoned = {**body, field: value[:1] + poison + value[1:]}
        # Escaped (\u0000, \ud800) as JSON clients send them.
        response = await client.request(method, url, content=json.dumps(poisoned), headers=headers)
        problems = assert_validation_error(response)
        assert any(problem["field"].endswith(field) for problem in problems), (url, field, problems)
    assert (await _count(session, User), await _count(session, Item)) == (users, items)


async def test_nul_in_query_text_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/items", params={"q": "oak\x00"})
    assert assert_validation_error(response)[0]["field"] == "query.q"


@pytest.mark.parametrize(
    "form",
    [
        {"username": "a\x00b@example.com", "password": PASSWORD},
        {"username": "a@example.com", "password": "pass\x00word"},
    ],
)
async def test_nul_in_the_login_form_is_refused(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    field = next(name for name, value in form.items() if "\x00" in value)
    response = await client.post(f"{API}/auth/login", data=form)
    assert assert_validation_error(response)[0]["field"] == field


@pytest.mark.parametrize(
    ("url", "field", "length"),
    [
        (f"{API}/items", "title", 201),
        (f"{API}/items", "description", 10_001),
        (f"{API}/users", "email", 255),
        (f"{API}/users", "password", 129),
        (f"{API}/users", "full_name", 256),
        (f"{API}/users", "bio", 5001),
        (f"{API}/auth/login", "password", 129),
        (f"{API}/auth/refresh", "refresh_token", 4097),
    ],
)
async def test_overlong_fields_are_refused(
    client: httpx.AsyncClient, owner: User, url: str, field: str, length: int
) -> None:
    valid = {"title": "T", "price": 1, "email": "x@example.com", "password": PASSWORD}
    value = (
        ("a" * (length - len("@example.com")) + "@example.com")
        if field == "email"
        else "A1b" + "x" * (length - 3)
    )
    body = {**valid, field: value, "refresh_token": "x" * 4097 if field == "refresh_token" else "x"}
    response = await client.post(url, json=body, headers=auth_headers(owner))
    assert any(problem["field"].endswith(field) for problem in assert_validation_error(response))


async def test_length_limits_count_characters_as_sent(
    client: httpx.AsyncClient, owner: User
) -> None:
    # Surrounding spaces are stripped, but only after the length check the schema documents.
    padded = {"title": " " + "x" * 200, "price": 1}
    assert_validation_error(
        await client.post(f"{API}/items", json=padded, headers=auth_headers(owner))
    )
    blank = {"title": "\u3000\t ", "price": 1}
    assert_validation_error(
        await client.post(f"{API}/items", json=blank, headers=auth_headers(owner))
    )


async def test_repeated_query_parameters_take_the_last_value(
    client: httpx.AsyncClient, owner: User, item: Item
) -> None:
    response = await client.get(
        f"{API}/items?owner_id={owner.id}&page=5&page=1&page_size=7&page_size=3"
    )
    assert response.status_code == 200
    assert (response.json()["page"], response.json()["page_size"]) == (1, 3)
    refused = await client.get(f"{API}/items?page_size=3&page_size=1000&sort=price&sort=nonsense")
    assert {problem["field"] for problem in assert_validation_error(refused)} == {
        "query.page_size",
        "query.sort",
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/octet-stream",
    ],
)
async def test_json_routes_refuse_other_content_types(
    client: httpx.AsyncClient, session: AsyncSession, owner: User, content_type: str
) -> None:
    items = await _count(session, Item)
    body = b'{"title": "Lamp", "price": "9.99"}'
    headers = {"content-type": content_type, **auth_headers(owner)}
    assert_validation_error(await client.post(f"{API}/items", content=body, headers=headers))
    assert await _count(session, Item) == items


MULTIPART = "multipart/form-data; boundary=XyZ"


def _part(name: str, value: str) -> str:
    return f'--XyZ\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            MULTIPART,
            _part("username", "a@example.com") + "--XyZ\r\nContent-Disp",
            id="cut-in-headers",
        ),
        pytest.param(
            MULTIPART,
            _part("username", "a@example.com") + _part("password", "Pass")[:-6],
            id="cut-in-value",
        ),
        pytest.param(MULTIPART, _part("username", "a@example.com"), id="no-closing-boundary"),
        pytest.param(MULTIPART, "--XyZ--\r\n", id="no-parts"),
        pytest.param(MULTIPART, "garbage without boundaries", id="no-boundary-in-body"),
        pytest.param(
            "multipart/form-data", _part("username", "a@example.com"), id="no-boundary-parameter"
        ),
        pytest.param(
            "multipart/form-data; boundary=Other",
            _part("username", "a@example.com"),
            id="wrong-boundary",
        ),
        pytest.param(
            MULTIPART,
            '--XyZ\r\nContent-Disposition: form-data; name="username"; filename="a.txt"\r\n\r\n'
            "a@example.com\r\n" + _part("password", PASSWORD) + "--XyZ--\r\n",
            id="file-as-username",
        ),
        pytest.param(
            "application/x-www-form-urlencoded",
            "&".join(f"f{n}=1" for n in range(1500)),
            id="too-many-fields",
        ),
    ],
)
async def test_broken_login_forms_are_validation_errors(
    client: httpx.AsyncClient, content_type: str, body: str
) -> None:
    response = await client.post(
        f"{API}/auth/login", content=body.encode(), headers={"content-type": content_type}
    )
    assert_validation_error(response)


async def test_login_form_with_undecodable_bytes_is_refused_not_a_crash(
    client: httpx.AsyncClient, owner: User
) -> None:
    # Form fields are decoded leniently: the bytes just fail to match any account.
    body = b"username=" + owner.email.encode() + b"\xff&password=" + PASSWORD.encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = await client.post(f"{API}/auth/login", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
