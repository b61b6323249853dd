"""The OpenAPI document: FastAPI's, completed where FastAPI cannot see what is answered.

The schema is a contract that clients generate code from and that Schemathesis
checks every response against, so it must describe exactly what the service does:

- Operation ids are the handlers' names (`create_item`), stable whatever the prefix;
  OpenAPI links refer to them.
- Query, path and header parameters never take `null`: FastAPI documents `x: int |
  None = None` as "integer or null", but a query string cannot carry a null (an
  empty `?x=` is an empty string); leaving the parameter out is how to send none.
- Any operation with a request body may answer 413 (the body-size limit); any that
  needs a token may answer 401 (bad token) and 403 (disabled account, missing role).
- Error responses document the headers that come with them: `WWW-Authenticate` on
  401, `Retry-After` on 429.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.responses import errors
from app.schemas.common import ErrorResponse

OpenAPIDocument = dict[str, Any]
_NULL = {"type": "null"}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "The authentication scheme: `Bearer`",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its handler's name (unique across the API)."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and `/openapi.json`) serve the completed document."""
    generate: Callable[[], OpenAPIDocument] = app.openapi

    def openapi() -> OpenAPIDocument:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def complete(document: OpenAPIDocument) -> OpenAPIDocument:
    """Apply the corrections listed in the module docstring, in place."""
    for operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            if parameter.get("in") != "cookie" and "schema" in parameter:
                parameter["schema"] = _without_null(parameter["schema"])
        responses = operation.setdefault("responses", {})
        if "requestBody" in operation:
            responses.setdefault("413", _error_response(413))
        if operation.get("security"):
            for status_code in (401, 403):
                responses.setdefault(str(status_code), _error_response(status_code))
        for status, headers in _ERROR_HEADERS.items():
            if status in responses:  # a route's own description of a header wins
                documented = responses[status].setdefault("headers", {})
                for name, header in headers.items():
                    documented.setdefault(name, header)
    return document


def _operations(document: OpenAPIDocument) -> Iterator[dict[str, Any]]:
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                yield operation


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    variants = schema.get("anyOf")
    if not isinstance(variants, list) or _NULL not in variants:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    kept = [variant for variant in variants if variant != _NULL]
    if rest.get("default", ...) is None:
        del rest["default"]
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def _error_response(status_code: int) -> dict[str, Any]:
    entry = errors(status_code)[status_code]
    reference = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        "description": entry["description"],
        "content": {"application/json": {"schema": reference}},
    }
