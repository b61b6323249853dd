"""Body-size limits: 413 in the envelope, by declared length or while a chunked body streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.api.uploads import MULTIPART_OVERHEAD
from app.config import Settings
from app.main import create_application
from app.middleware.body_limit import BodyLimitMiddleware

LIMIT = 2048
IMPORT_LIMIT = 8192
ITEMS = "/api/v1/items"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(max_body_size=LIMIT, max_import_size=IMPORT_LIMIT, rate_limit_enabled=True)
    transport = httpx.ASGITransport(app=create_application(settings), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in response.json()["error"]["message"]
    assert response.headers["connection"] == "close"
    assert response.headers["x-request-id"]


async def chunks(total: int, size: int = 512) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


async def test_declared_length_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, content=b"{" + b" " * LIMIT + b"}")
    assert_too_large(response)


async def test_declared_length_is_refused_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    # No token: without the early check this would be a 401 after reading nothing.
    response = await client.post(
        ITEMS, content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"}
    )
    assert_too_large(response)


async def test_chunked_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ITEMS,
        content=chunks(LIMIT * 4),
        headers={"content-type": "application/json", "Authorization": "Bearer x"},
    )
    assert "content-length" not in response.request.headers
    assert_too_large(response)


async def test_chunked_login_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    # Read by the rate limiter (for the e-mail), before the endpoint: still a 413.
    response = await client.post(
        "/api/v1/auth/login",
        content=chunks(LIMIT * 4),
        headers={"content-type": "application/json"},
    )
    assert_too_large(response)


async def test_bodies_within_the_limit_pass(client: httpx.AsyncClient) -> None:
    response = await client.post(ITEMS, json={"title": "x" * 100, "price": 1})
    assert response.status_code == 401  # reached the endpoint's authentication
    body = b'{"title": "x", "price": 1}'
    padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"  # exactly at the limit

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, LIMIT, 500):
            yield padded[start : start + 500]

    chunked = await client.post(
        ITEMS, content=stream(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 401


async def test_the_import_upload_has_its_own_larger_limit(client: httpx.AsyncClient) -> None:
    between = b"x" * (LIMIT * 2)
    upload = await client.post(f"{ITEMS}/import", content=between)
    assert upload.status_code != 413
    # The limit is on the file; the request may add its multipart framing on top.
    body_limit = IMPORT_LIMIT + MULTIPART_OVERHEAD
    framed = await client.post(f"{ITEMS}/import", content=b"x" * body_limit)
    assert framed.status_code == 401  # past the body limit: the endpoint's own checks
    too_big = await client.post(f"{ITEMS}/import", content=b"x" * (body_limit + 1))
    assert too_big.status_code == 413
    assert str(body_limit) in too_big.json()["error"]["message"]


async def test_limit_applies_outside_the_api_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/health", content=b"x" * (LIMIT + 1))
    assert_too_large(response)


async def test_the_body_stops_being_read_at_the_limit() -> None:
    """Nothing past the first chunk over the limit is pulled from the client."""
    pulled = 0
    size = 1024

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        while True:
            message = await receive()  # type: ignore[operator]
            if not message.get("more_body"):
                break

    async def receive() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * size, "more_body": pulled < 1000}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(app, default=LIMIT, per_path={})
    await middleware({"type": "http", "path": "/x", "headers": []}, receive, send)
    assert pulled == LIMIT // size + 1
    assert sent[0]["status"] == 413
