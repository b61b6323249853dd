"""The OpenAPI document tells the truth.

Structural promises (operation ids, links, documented errors and headers, no null
query parameters, `Allow` on 405), and property tests: for each constrained input
type, the documented JSON Schema, judged by jsonschema-rs (the validator
Schemathesis uses), accepts exactly the values the service accepts.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Annotated, Any, get_type_hints

import httpx
import jsonschema_rs
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.v1.router import routers
from app.config import get_settings
from app.main import create_application
from app.schemas.auth import LoginRequest
from app.schemas.common import MAX_PRICE, WHITESPACE, PartialUpdate, Price
from tests.factories import PASSWORD, auth_headers, make_user

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROPERTY = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
# Per input: there are a few dozen of them.
INPUT_PROPERTY = settings(PROPERTY, max_examples=150)


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


# --- the documented schema of each input accepts exactly what the service accepts
#
# The inputs are found in the application: every field of every JSON body, and every
# query parameter that is text (the query string carries nothing else), each tried
# with values drawn from its own documented schema, and the values around them.


def agree(annotation: Any, value: Any) -> None:
    adapter = _adapter(annotation)
    schema = adapter.json_schema()
    documented = jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value)
    try:
        adapter.validate_python(value)
        accepted = True
    except PydanticValidationError:
        accepted = False
    assert documented == accepted, f"schema says {documented}, service says {accepted}: {value!r}"


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _mutations(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    noise = st.sampled_from([*WHITESPACE, ".", "..", "@", "-", "--", "\x00", "A", "a", "0", "é"])
    return st.tuples(base, st.integers(0, 80), noise).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )


SPACED = st.text(alphabet=st.sampled_from([*WHITESPACE, "x", "\x00", "é"]), max_size=210)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.from_regex(r"\A[-+0-9.eE_ ]{0,13}\Z"),
)


def values_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a client might send for an input documented by `schema`: valid ones,
    and the invalid ones next to them."""
    variants = schema.get("anyOf", [schema])
    kinds = {variant.get("type") for variant in variants}
    strategies: list[st.SearchStrategy[Any]] = [st.none(), st.booleans(), NUMBERS]
    if "string" in kinds:
        strategies += [st.text(max_size=40), SPACED, _mutations(st.text(max_size=20))]
    for variant in variants:
        if "pattern" in variant:
            valid = st.from_regex(variant["pattern"], fullmatch=True)
            strategies += [valid, _mutations(valid)]
        if variant.get("format") == "email":
            strategies += [st.emails(), _mutations(st.emails())]
        if "enum" in variant:
            strategies += [
                st.sampled_from(variant["enum"]),
                _mutations(st.sampled_from(variant["enum"])),
            ]
    return st.one_of(strategies)


def _fields(model: type[BaseModel], where: str) -> Iterator[tuple[str, Any]]:
    for name, info in model.model_fields.items():
        info = copy.copy(info)  # its type and rules; aliases mean nothing outside a model
        info.alias = info.validation_alias = info.serialization_alias = None
        yield f"{where} {model.__name__}.{name}", Annotated[info.annotation, info]


def _routes() -> Iterator[APIRoute]:
    for router in routers:
        yield from (route for route in router.routes if isinstance(route, APIRoute))


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _models(fields: list[Any]) -> Iterator[type[BaseModel]]:
    for field in fields:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation


def _read_by_hand(dependant: Dependant) -> Iterator[type[BaseModel]]:
    """The model a dependency builds from the request itself (the login body)."""
    if dependant.request_param_name and dependant.call is not None:
        returned = get_type_hints(dependant.call).get("return")
        if isinstance(returned, type) and issubclass(returned, BaseModel):
            yield returned


def _is_text(annotation: Any) -> bool:
    schema = _adapter(annotation).json_schema()
    return "string" in {variant.get("type") for variant in schema.get("anyOf", [schema])}


def api_inputs() -> dict[str, Any]:
    """Every JSON body field and text query parameter of the API, once per type."""
    found: dict[str, Any] = {}
    for route in _routes():
        for dependant in _dependants(route.dependant):
            for model in [*_models(dependant.body_params), *_read_by_hand(dependant)]:
                found.update(_fields(model, "body"))
            for model in _models(dependant.query_params):
                found.update(
                    (name, annotation)
                    for name, annotation in _fields(model, "query")
                    if _is_text(annotation)
                )
            for field in dependant.query_params:
                annotation = Annotated[field.field_info.annotation, field.field_info]
                if not _models([field]) and _is_text(annotation):
                    found[f"query {field.name}"] = annotation
    unique: dict[str, Any] = {}
    for name, annotation in found.items():
        unique.setdefault(repr(annotation), (name, annotation))
    return dict(unique.values())


INPUTS = api_inputs()


def test_the_inputs_are_found() -> None:
    assert {"body ItemCreate.title", "body UserCreate.email", "body ItemCreate.price"} <= set(
        INPUTS
    )
    assert {"query ItemQuery.q", "body LoginRequest.email"} <= set(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_input_schema_matches_validation(name: str) -> None:
    annotation = INPUTS[name]

    @INPUT_PROPERTY
    @given(values_for(_adapter(annotation).json_schema()))
    def check(value: Any) -> None:
        agree(annotation, value)

    check()


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


def _partial_updates() -> list[type[PartialUpdate]]:
    found = {
        model
        for route in _routes()
        for dependant in _dependants(route.dependant)
        for model in _models(dependant.body_params)
        if issubclass(model, PartialUpdate)
    }
    return sorted(found, key=lambda model: model.__name__)


@pytest.mark.parametrize("model", _partial_updates(), ids=lambda model: model.__name__)
def test_every_patch_body_schema_matches_validation(model: type[PartialUpdate]) -> None:
    """The body's own rules too: fields that may not be null, fields that need others."""
    fields = {
        name: st.one_of(st.text(max_size=5), values_for(_adapter(annotation).json_schema()))
        for name, annotation in _fields(model, "")
    }
    bodies = st.fixed_dictionaries(
        {}, optional={name.rsplit(".", 1)[1]: value for name, value in fields.items()}
    )

    @INPUT_PROPERTY
    @given(bodies)
    def check(body: dict[str, Any]) -> None:
        agree(model, body)

    check()


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
