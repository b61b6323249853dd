"""Stricter limits against brute force: login per address and per e-mail, password resets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.session import get_async_session, session_scope
from tests.factories import PASSWORD, auth_headers, make_user
from tests.ratelimit_helpers import Caller, LimitedApps, storage_params

pytestmark = pytest.mark.usefixtures("database_url")
LOGIN = "/api/v1/auth/login"
RESET = "/api/v1/auth/password-reset/request"
ME = "/api/v1/users/me"


@pytest.fixture(params=storage_params())
async def limited(
    request: pytest.FixtureRequest, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Callable[..., Caller]]:
    """Limited applications whose requests share the test's rolled-back transaction."""

    async def override() -> AsyncIterator[AsyncSession]:
        async with session_scope(session_factory) as session:
            yield session

    apps = LimitedApps(request.param)

    def build(**overrides: Any) -> Caller:
        caller = apps(**overrides)
        caller.app.dependency_overrides[get_async_session] = override
        return caller

    yield build
    await apps.close()


def wrong(email: str) -> dict[str, str]:
    return {"email": email, "password": "Wrong-password-1"}


async def test_logins_for_one_email_are_limited_from_any_address(
    limited: Callable[..., Caller], session: AsyncSession
) -> None:
    call = limited(rate_limit_login="10/minute", rate_limit_login_email="2/minute")
    user = await make_user(session)
    for n in range(2):
        response = await call("POST", LOGIN, peer=f"198.51.100.{n + 1}", json=wrong(user.email))
        assert response.status_code == 401
    # Another spelling of the same address, as a form, from yet another address.
    form = {"username": f"  {user.email.upper()} ", "password": PASSWORD}
    response = await call("POST", LOGIN, peer="198.51.100.9", data=form)
    assert response.status_code == 429
    assert response.headers["x-ratelimit-limit"] == "2"


@pytest.mark.parametrize(
    "encoding",
    [
        "application/x-www-form-urlencoded; charset=utf-8",
        "multipart/form-data",
        "urlencoded, with a byte that is not UTF-8 in the password",
    ],
)
async def test_every_form_encoding_counts_against_the_email(
    limited: Callable[..., Caller], session: AsyncSession, encoding: str
) -> None:
    call = limited(rate_limit_login="10/minute", rate_limit_login_email="1/minute")
    user = await make_user(session)
    assert (await call("POST", LOGIN, json=wrong(user.email))).status_code == 401
    fields = {"username": user.email, "password": "Wrong-password-1"}
    if encoding == "multipart/form-data":
        sent = {"files": {name: (None, value) for name, value in fields.items()}}
    else:
        body = f"username={quote(user.email)}&password=Wrong".encode()
        if encoding.startswith("urlencoded"):
            body += b"\xff"
            encoding = "application/x-www-form-urlencoded"
        sent = {"content": body, "headers": {"content-type": encoding}}
    response = await call("POST", LOGIN, peer="198.51.100.7", **sent)
    assert response.status_code == 429, response.text
    assert response.headers["x-ratelimit-limit"] == "1"


async def test_a_login_without_a_content_type_is_the_endpoints_to_refuse(
    limited: Callable[..., Caller],
) -> None:
    call = limited(rate_limit_login="1/minute")
    response = await call("POST", LOGIN, content=b"username=a%40b.c&password=x")
    assert response.status_code == 422, response.text
    assert (await call("POST", LOGIN, content=b"")).status_code == 429  # counted all the same


async def test_logins_from_one_address_are_limited_whatever_the_email(
    limited: Callable[..., Caller],
) -> None:
    call = limited(rate_limit_login="3/minute", rate_limit_login_email="10/minute")
    for n in range(3):
        response = await call("POST", LOGIN, json=wrong(f"nobody{n}@example.com"))
        assert response.status_code == 401
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == str(2 - n)
    response = await call("POST", LOGIN, json=wrong("someone-else@example.com"))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"


async def test_login_still_works_through_the_limiter(
    limited: Callable[..., Caller], session: AsyncSession
) -> None:
    call = limited()
    user = await make_user(session)
    as_json = await call("POST", LOGIN, json={"email": user.email, "password": PASSWORD})
    assert as_json.status_code == 200, as_json.text
    as_form = await call("POST", LOGIN, data={"username": user.email, "password": PASSWORD})
    assert as_form.status_code == 200, as_form.text
    assert "x-ratelimit-remaining" in as_form.headers


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"email": 12}', b'{"email": "' + b"a" * 5000 + b'"}']
)
async def test_malformed_login_bodies_are_refused_by_the_endpoint_not_the_limiter(
    limited: Callable[..., Caller], body: bytes
) -> None:
    call = limited()
    response = await call("POST", LOGIN, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422


async def test_password_reset_requests_are_limited_per_email(
    limited: Callable[..., Caller],
) -> None:
    call = limited(rate_limit_password_reset="10/hour", rate_limit_password_reset_email="2/hour")
    target = {"email": "victim@example.com"}
    for n in range(2):
        response = await call("POST", RESET, peer=f"198.51.100.{n + 1}", json=target)
        assert response.status_code != 429
    response = await call("POST", RESET, peer="198.51.100.3", json=target)
    assert response.status_code == 429
    other = await call("POST", RESET, peer="198.51.100.3", json={"email": "other@example.com"})
    assert other.status_code != 429


async def test_password_reset_requests_are_limited_per_address(
    limited: Callable[..., Caller],
) -> None:
    call = limited(rate_limit_password_reset="2/hour", rate_limit_password_reset_email="10/hour")
    for n in range(2):
        response = await call("POST", RESET, json={"email": f"user{n}@example.com"})
        assert response.status_code != 429
    response = await call("POST", RESET, json={"email": "user9@example.com"})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 60  # an hourly limit


async def test_guesses_of_the_current_password_are_limited_per_user(
    limited: Callable[..., Caller], session: AsyncSession
) -> None:
    """A stolen token must not buy unlimited guesses of the password it could then change."""
    call = limited(rate_limit_password_change="2/minute")
    user, other = await make_user(session), await make_user(session)
    guess = {"password": "Brand-New-Pass1", "current_password": "Wrong-Pass-1"}
    for n in range(2):
        response = await call(
            "PATCH", ME, peer=f"198.51.100.{n + 1}", json=guess, headers=auth_headers(user)
        )
        assert response.status_code == 403
        assert response.headers["x-ratelimit-limit"] == "2"
    limited_out = await call("PATCH", ME, json=guess, headers=auth_headers(user))
    assert limited_out.status_code == 429
    assert limited_out.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    # Other changes of the same user, and other users' guesses, are not counted.
    renamed = await call("PATCH", ME, json={"full_name": "Still Me"}, headers=auth_headers(user))
    assert renamed.status_code == 200, renamed.text
    theirs = await call("PATCH", ME, json=guess, headers=auth_headers(other))
    assert theirs.status_code == 403


@pytest.mark.parametrize("body", [b"[" * 100_000, b"\xff{", b'{"current_password": '])
async def test_malformed_password_change_bodies_are_the_endpoints_to_refuse(
    limited: Callable[..., Caller], session: AsyncSession, body: bytes
) -> None:
    call = limited()
    headers = {**auth_headers(await make_user(session)), "content-type": "application/json"}
    response = await call("PATCH", ME, content=body, headers=headers)
    assert response.status_code == 422, response.text
