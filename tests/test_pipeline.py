"""The request pipeline: request ids in responses and logs, request log, gzip, CORS, headers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.core.logging import READABLE_FORMAT, JsonFormatter, RequestIdFilter
from app.main import create_application

ORIGIN = "https://app.example.com"


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def get(path: str, settings: Settings | None = None, **kwargs: Any) -> httpx.Response:
    async with client_for(create_application(settings or Settings())) as client:
        return await client.get(path, **kwargs)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged during the test, as the production JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous_level)


def log_entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_C-9", "x" * 64])
async def test_a_safe_request_id_is_kept(request_id: str) -> None:
    response = await get("/health", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id", ["x" * 65, "has space", "semi;colon", "new\\nline", "ünï", "<script>", ""]
)
async def test_an_unsafe_request_id_is_replaced(request_id: str) -> None:
    response = await get("/health", headers={"X-Request-ID": request_id.encode("utf-8")})
    generated = response.headers["x-request-id"]
    assert generated != request_id
    assert len(generated) == 32
    assert int(generated, 16) >= 0


async def test_each_request_gets_its_own_id() -> None:
    async with client_for(create_application()) as client:
        ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_every_log_line_of_a_request_carries_its_id(json_log: io.StringIO) -> None:
    app = create_application()

    @app.get("/logs-something")
    async def logs_something() -> dict[str, str]:
        logging.getLogger("app.somewhere").warning("inside the request")
        return {"ok": "yes"}

    async with client_for(app) as client:
        response = await client.get("/logs-something", headers={"X-Request-ID": "req-42"})
    entries = log_entries(json_log)
    inside = next(e for e in entries if e["message"] == "inside the request")
    access = next(e for e in entries if e["logger"] == "app.access")
    assert response.headers["x-request-id"] == "req-42"
    assert inside["request_id"] == access["request_id"] == "req-42"


async def test_request_log_has_method_route_status_and_duration(json_log: io.StringIO) -> None:
    await get("/api/v1/items/0")
    access = next(e for e in log_entries(json_log) if e["logger"] == "app.access")
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/items/0"
    assert access["route"] == "/api/v1/items/{item_id}"
    assert access["status"] == 422
    assert access["duration_ms"] >= 0
    assert access["client"] == "127.0.0.1"


async def test_request_log_can_be_switched_off(json_log: io.StringIO) -> None:
    await get("/health", Settings(access_log=False))
    assert not [e for e in log_entries(json_log) if e["logger"] == "app.access"]


def test_readable_lines_carry_the_request_id() -> None:
    record = logging.makeLogRecord({"name": "app.x", "levelname": "INFO", "msg": "hello"})
    RequestIdFilter().filter(record)
    line = logging.Formatter(READABLE_FORMAT).format(record)
    assert line.endswith("app.x [-] hello")


async def test_unexpected_errors_name_their_request_id(json_log: io.StringIO) -> None:
    app = create_application()

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("SELECT secret FROM somewhere")

    async with client_for(app) as client:
        response = await client.get("/fails", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "SELECT" not in response.text
    assert response.headers["x-request-id"] == "req-500"
    logged = next(e for e in log_entries(json_log) if "exception" in e)
    assert logged["request_id"] == "req-500"
    assert "SELECT secret" in logged["exception"]


async def test_large_responses_are_compressed_small_ones_not() -> None:
    async with client_for(create_application()) as client:
        large = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        small = await client.get("/health", headers={"Accept-Encoding": "gzip"})
        plain = await client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert large.headers["content-encoding"] == "gzip"
    assert large.json()["openapi"]
    assert "content-encoding" not in small.headers
    assert "content-encoding" not in plain.headers


@pytest.mark.parametrize("path", ["/health", "/api/v1/items/0", "/nowhere"])
async def test_security_headers_on_every_response(path: str) -> None:
    response = await get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers  # only in production


async def test_hsts_in_production() -> None:
    production = Settings(environment="production", secret_key="p" * 40)
    response = await get("/health", production)
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_configured_origins_without_credentials() -> None:
    settings = Settings(cors_origins=ORIGIN)
    preflight_headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with client_for(create_application(settings)) as client:
        preflight = await client.options("/api/v1/items", headers=preflight_headers)
        simple = await client.get("/api/v1/items/0", headers={"Origin": ORIGIN})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_other_origins() -> None:
    settings = Settings(cors_origins=ORIGIN)
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    async with client_for(create_application(settings)) as client:
        preflight = await client.options("/api/v1/items", headers=headers)
        simple = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in simple.headers


async def test_a_wildcard_origin_is_never_credentialed() -> None:
    response = await get(
        "/health",
        Settings(cors_origins="*"),
        headers={"Origin": "https://x.example", "Cookie": "a=b"},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


async def test_no_cors_headers_without_configured_origins() -> None:
    response = await get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
