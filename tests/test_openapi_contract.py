"""The OpenAPI document tells the truth.

Structural promises (operation ids, links, documented errors and headers, no null
query parameters, `Allow` on 405), and property tests: for each constrained input
type, the documented JSON Schema, judged by jsonschema-rs (the validator
Schemathesis uses), accepts exactly the values the service accepts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.main import create_application
from app.schemas.auth import LoginEmail, LoginRequest
from app.schemas.common import MAX_PRICE, WHITESPACE, Price, ShortText
from app.schemas.item import ItemUpdate, Title
from app.schemas.user import EMAIL_PATTERN, PASSWORD_PATTERN, Email, Password, UserUpdate
from tests.factories import PASSWORD, auth_headers, make_user

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROPERTY = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_application().openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


@pytest.fixture
async def bare_client() -> AsyncIterator[httpx.AsyncClient]:
    """No database behind it: these requests never reach one."""
    transport = httpx.ASGITransport(app=create_application())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_every_undocumented_method_is_405_with_the_documented_allow(
    bare_client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    # Also proves no route shadows another: `/items/import` must not reach `/items/{id}`.
    for path, item in document["paths"].items():
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        documented = {method.upper() for method in item if method in METHODS}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"} - documented:
            response = await bare_client.request(method, url)
            assert response.status_code == 405, (method, path, response.text)
            assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
            assert set(response.headers["allow"].split(", ")) - {"HEAD"} == documented, path


def test_operation_ids_are_unique_handler_names(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert {"create_item", "read_item", "login", "register_user"} <= set(ids)


def test_links_lead_to_operations_and_parameters_that_exist(document: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in operations(document)}
    schemas = document["components"]["schemas"]
    found = 0
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for name, link in response.get("links", {}).items():
                found += 1
                target = by_id[link["operationId"]]
                names = {parameter["name"] for parameter in target.get("parameters", ())}
                assert set(link.get("parameters", {})) <= names, name
                if "requestBody" in link:
                    schema = target["requestBody"]["content"]["application/json"]["schema"]
                    schema = (
                        schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
                    )
                    names = set(schema["properties"]).union(
                        *(branch.get("properties", {}) for branch in schema.get("anyOf", ()))
                    )
                    assert set(link["requestBody"]) <= names, name
    assert found >= 10


def test_parameters_never_document_null(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", ()):
            assert "null" not in str(parameter["schema"]), (method, path, parameter["name"])


def test_every_error_an_operation_can_answer_is_documented(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        responses = operation["responses"]
        expected = {"422", "500", "503"} | ({"413"} if "requestBody" in operation else set())
        if path.startswith(get_settings().api_prefix):  # the rate limiter guards the API
            expected.add("429")
        assert expected <= set(responses), (method, path)
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), (method, path)
        if "401" in responses:
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                reference = response["content"]["application/json"]["schema"]["$ref"]
                assert reference.endswith("/ErrorResponse"), (method, path, status)
            if status == "204":
                assert "content" not in response, (method, path)


@pytest.mark.usefixtures("database_url")
async def test_no_content_answers_have_no_body(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    for url, body in [
        ("/api/v1/auth/logout", {"refresh_token": login.json()["refresh_token"]}),
        ("/api/v1/auth/logout-all", None),
    ]:
        response = await client.post(url, json=body, headers=auth_headers(user))
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert "content-type" not in response.headers


# --- the documented schema of each input type accepts exactly what the service accepts


def agree(annotation: Any, value: Any) -> None:
    adapter = TypeAdapter(annotation)
    schema = adapter.json_schema()
    documented = jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value)
    try:
        adapter.validate_python(value)
        accepted = True
    except PydanticValidationError:
        accepted = False
    assert documented == accepted, f"schema says {documented}, service says {accepted}: {value!r}"


def _mutations(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    noise = st.sampled_from([*WHITESPACE, ".", "..", "@", "-", "--", "\x00", "A", "a", "0", "é"])
    return st.tuples(base, st.integers(0, 80), noise).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )


EMAILS = st.one_of(st.emails(), st.from_regex(EMAIL_PATTERN), st.text(max_size=40))
PASSWORDS = st.one_of(st.from_regex(PASSWORD_PATTERN), st.text(min_size=6, max_size=140))
SPACED = st.text(alphabet=st.sampled_from([*WHITESPACE, "x", "\x00", "é"]), max_size=210)


@PROPERTY
@given(st.one_of(EMAILS, _mutations(st.emails())))
def test_email_schema_matches_validation(value: str) -> None:
    agree(Email, value)


@PROPERTY
@given(st.one_of(PASSWORDS, _mutations(st.from_regex(PASSWORD_PATTERN, fullmatch=True))))
def test_password_schema_matches_validation(value: str) -> None:
    agree(Password, value)


@PROPERTY
@given(st.one_of(SPACED, st.text(max_size=210)))
def test_title_and_name_schemas_match_validation(value: str) -> None:
    for annotation in (Title, ShortText, LoginEmail):
        agree(annotation, value)


@PROPERTY
@given(
    st.one_of(
        st.integers(min_value=-(10**12), max_value=10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        st.from_regex(r"\A[-+0-9.eE_ ]{0,13}\Z"),
        st.booleans(),
    )
)
def test_price_schema_matches_validation(value: object) -> None:
    agree(Price, value)


@PROPERTY
@given(
    st.decimals(max_value=Decimal("-0.01"), min_value=-MAX_PRICE, places=2).flatmap(
        lambda price: st.sampled_from([price, float(price), str(price)])
    )
)
def test_negative_prices_are_refused_for_their_sign(price: object) -> None:
    agree(Price, price)
    with pytest.raises(PydanticValidationError) as refused:
        TypeAdapter(Price).validate_python(price)
    assert [error["type"] for error in refused.value.errors()] == ["greater_than_equal"]


def _patch_bodies(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={name: st.none() | value for name, value in fields.items()}
    )


@PROPERTY
@given(
    _patch_bodies(
        {"title": st.text(max_size=5), "description": st.text(max_size=5), "price": st.just("1.00")}
    )
)
def test_item_patch_schema_matches_validation(body: dict[str, Any]) -> None:
    agree(ItemUpdate, body)


@PROPERTY
@given(
    _patch_bodies(
        {
            "full_name": st.text(max_size=5),
            "password": st.just("New-Password-1"),
            "current_password": st.text(max_size=5),
        }
    )
)
def test_profile_patch_schema_matches_validation(body: dict[str, Any]) -> None:
    agree(UserUpdate, body)


@PROPERTY
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(st.none(), st.integers(), st.text(max_size=6), st.just("a@b.co"))
            for name in ("email", "username", "password")
        },
    )
)
def test_login_body_schema_matches_what_login_reads(
    document: dict[str, Any], body: dict[str, Any]
) -> None:
    content = document["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    schema = content["application/json"]["schema"]
    documented = jsonschema_rs.validator_for(schema).is_valid(body)
    try:
        LoginRequest.model_validate(body)
        accepted = True
    except PydanticValidationError:
        accepted = False
    assert documented == accepted, body
