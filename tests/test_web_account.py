"""The pages e-mail links open: verification and password reset, with every outcome.

Tokens come from the e-mails in the outbox, as a person would get them. Each page
runs the API's service code, so the messages are the API's.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli
from app.config import Settings, get_settings
from app.core.security import TokenType, encode_token, password_digest, verify_password
from app.main import create_application
from app.models.user import User
from app.tasks.email_templates import verification_email
from tests.factories import PASSWORD, auth_headers, make_user
from tests.mail import Outbox, body_of
from tests.web_helpers import assert_page_headers, csrf_of, heading_of

pytestmark = pytest.mark.usefixtures("database_url")
NEW_PASSWORD = "Fresh-Start-42"


def link_in(outbox: Outbox, address: str, subject_word: str) -> str:
    [message] = [m for m in outbox.to(address) if subject_word in m["Subject"]]
    [link] = [w for w in body_of(message).split() if "token=" in w]
    return link


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def reset_link(client: httpx.AsyncClient, outbox: Outbox, email: str) -> str:
    response = await client.post("/api/v1/auth/password-reset/request", json={"email": email})
    assert response.status_code == 202
    return link_in(outbox, email, "Reset")


async def submit(
    client: httpx.AsyncClient, link: str, **fields: str
) -> tuple[httpx.Response, httpx.Response]:
    """Open the link's page, then post its form with `fields` added."""
    page = await client.get(path_of(link))
    assert page.status_code == 200, page.text
    action = urlsplit(link).path
    data = {"csrf_token": csrf_of(page), "token": token_of(link), **fields}
    return page, await client.post(action, data=data)


async def test_the_verification_link_opens_a_page_that_verifies(
    client: httpx.AsyncClient, outbox: Outbox, session: AsyncSession
) -> None:
    await register(client, "ivy@example.com")
    link = link_in(outbox, "ivy@example.com", "Confirm")
    assert link.startswith("http://127.0.0.1:8000/verify-email?token=")
    page, result = await submit(client, link)
    assert_page_headers(page)
    assert "Confirm my e-mail address" in page.text
    assert result.status_code == 200
    assert heading_of(result) == "Your e-mail address is verified."
    assert token_of(link) not in result.text  # the page after use never holds the token
    assert_page_headers(result)
    user = await session.get(User, (await users_id(client, "ivy@example.com")))
    assert user is not None
    assert user.is_verified


async def users_id(client: httpx.AsyncClient, email: str) -> int:
    tokens = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    return int(me.json()["id"])


async def test_a_second_use_of_the_verification_link_says_already_verified(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    await register(client, "jade@example.com")
    link = link_in(outbox, "jade@example.com", "Confirm")
    form, _ = await submit(client, link)
    page = await client.get(path_of(link))
    assert page.status_code == 200
    assert heading_of(page) == "Your e-mail address was already verified."
    # The form posted twice (a double click):
    data = {"csrf_token": csrf_of(form), "token": token_of(link)}
    again = await client.post("/verify-email", data=data)
    assert (again.status_code, heading_of(again)) == (
        200,
        "Your e-mail address was already verified.",
    )


@pytest.mark.parametrize("page_path", ["/verify-email", "/reset-password"])
async def test_bad_tokens_get_a_clear_page(client: httpx.AsyncClient, page_path: str) -> None:
    for query, status, heading in [
        ("", 400, "This link is not valid"),
        ("?token=", 400, "This link is not valid"),
        ("?token=not-a-token", 400, "This link is not valid"),
        ("?token=a.b.c", 400, "This link is not valid"),
    ]:
        page = await client.get(page_path + query)
        assert (page.status_code, heading_of(page)) == (status, heading), query
        assert_page_headers(page)
    huge = await client.get(f"{page_path}?token={'x' * 10_000}")
    assert huge.status_code == 422
    assert "x" * 100 not in huge.text


async def test_an_expired_link_says_so(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, is_verified=False)
    expired = encode_token(
        user.id, TokenType.EMAIL_VERIFICATION, timedelta(seconds=-1), {"email": user.email}
    )
    page = await client.get(f"/verify-email?token={expired}")
    assert (page.status_code, heading_of(page)) == (400, "This link has expired")
    stale = encode_token(
        user.id,
        TokenType.PASSWORD_RESET,
        timedelta(seconds=-1),
        {"pwd": password_digest(user.hashed_password)},
    )
    page = await client.get(f"/reset-password?token={stale}")
    assert (page.status_code, heading_of(page)) == (400, "This link has expired")


async def test_a_verification_link_for_an_older_address_is_not_valid(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, is_verified=False)
    token = encode_token(
        user.id, TokenType.EMAIL_VERIFICATION, timedelta(hours=1), {"email": "old@example.com"}
    )
    page = await client.get(f"/verify-email?token={token}")
    assert (page.status_code, heading_of(page)) == (400, "This link is not valid")


async def test_the_reset_link_sets_a_new_password_once(
    client: httpx.AsyncClient, outbox: Outbox, session: AsyncSession
) -> None:
    user = await make_user(session)
    link = await reset_link(client, outbox, user.email)
    assert link.startswith("http://127.0.0.1:8000/reset-password?token=")
    page, result = await submit(client, link, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    assert_page_headers(page)
    assert 'autocomplete="new-password"' in page.text
    assert result.status_code == 200, result.text
    assert heading_of(result) == "Your password has been reset; sign in with it."
    assert token_of(link) not in result.text
    await session.refresh(user)
    assert verify_password(NEW_PASSWORD, user.hashed_password)
    old = await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    # Posted again (a double click), and opened again: the link is spent.
    again = await client.post(
        urlsplit(link).path,
        data={
            "csrf_token": csrf_of(page),
            "token": token_of(link),
            "password": "Another-Pass-7",
            "password_confirm": "Another-Pass-7",
        },
    )
    assert (again.status_code, heading_of(again)) == (400, "This link has already been used")
    reopened = await client.get(path_of(link))
    assert (reopened.status_code, heading_of(reopened)) == (400, "This link has already been used")
    await session.refresh(user)
    assert verify_password(NEW_PASSWORD, user.hashed_password)


@pytest.mark.parametrize(
    ("password", "confirm", "field", "message"),
    [
        ("Fresh-Start-42", "Fresh-Start-43", "password_confirm", "The two passwords do not match."),
        ("short1A", "short1A", "password", "Value should have at least 8 items after validation"),
        (
            "alllowercase1",
            "alllowercase1",
            "password",
            "password must contain an upper-case letter",
        ),
    ],
)
async def test_password_rules_and_mismatch_keep_the_form_with_the_reason(
    client: httpx.AsyncClient,
    outbox: Outbox,
    session: AsyncSession,
    password: str,
    confirm: str,
    field: str,
    message: str,
) -> None:
    user = await make_user(session)
    link = await reset_link(client, outbox, user.email)
    _, result = await submit(client, link, password=password, password_confirm=confirm)
    assert result.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}' in result.text
    assert 'aria-invalid="true"' in result.text
    assert "at least one upper-case letter, one lower-case letter and one digit" in result.text
    await session.refresh(user)
    assert verify_password(PASSWORD, user.hashed_password)  # nothing changed


async def test_a_form_with_missing_fields_is_a_clear_4xx(
    client: httpx.AsyncClient, outbox: Outbox, session: AsyncSession
) -> None:
    user = await make_user(session)
    link = await reset_link(client, outbox, user.email)
    page = await client.get(path_of(link))
    result = await client.post(
        "/reset-password", data={"csrf_token": csrf_of(page), "token": token_of(link)}
    )
    assert result.status_code == 422
    assert "password" in result.text
    await session.refresh(user)
    assert verify_password(PASSWORD, user.hashed_password)


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ("missing", {}),
        ("wrong", {}),
        ("no-cookie", {}),
        ("right", {"Sec-Fetch-Site": "cross-site"}),
    ],
)
async def test_forged_posts_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    outbox: Outbox,
    session: AsyncSession,
    change: str,
    headers: dict[str, str],
) -> None:
    user = await make_user(session, is_verified=False)
    await client.post("/api/v1/auth/verify-email/request", headers=auth_headers(user))
    link = link_in(outbox, user.email, "Confirm")
    page = await client.get(path_of(link))
    data = {"token": token_of(link)}
    if change != "missing":
        data["csrf_token"] = "0" * 64 if change == "wrong" else csrf_of(page)
    if change == "no-cookie":
        client.cookies.clear()
    result = await client.post("/verify-email", data=data, headers=headers)
    assert result.status_code == 403
    assert "did not come from this site" in result.text
    assert_page_headers(result)
    await session.refresh(user)
    assert user.is_verified is False


async def test_the_csrf_cookie_is_strict_and_http_only(
    client: httpx.AsyncClient, set_env: Callable[..., None]
) -> None:
    page = await client.get("/verify-email?token=x")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie
    set_env(ENVIRONMENT="staging")
    client.cookies.clear()
    page = await client.get("/verify-email?token=x")
    assert "Secure" in page.headers["set-cookie"]


async def test_the_token_reaches_no_log_line(
    client: httpx.AsyncClient,
    outbox: Outbox,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_user(session)
    link = await reset_link(client, outbox, user.email)
    token = token_of(link)
    with caplog.at_level(logging.DEBUG):
        await client.get(path_of(link))
        await client.get(f"/verify-email?token={token}x")
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in service)
    assert "/reset-password" in logged  # the request log has the path...
    assert token not in logged  # ...and never the query string


def test_links_point_where_the_server_listens_or_at_the_public_address() -> None:
    assert Settings(port=9123).link_base == "http://127.0.0.1:9123"
    assert Settings(host="0.0.0.0", port=8080).link_base == "http://127.0.0.1:8080"
    assert Settings(host="::1", port=8080).link_base == "http://[::1]:8080"
    assert Settings(public_url="https://api.example.com/").link_base == "https://api.example.com"
    front = Settings(public_url="https://api.example.com", frontend_url="https://app.example.com")
    assert front.link_base == "https://app.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("public_url", "api.example.com"),
        ("frontend_url", "ftp://example.com"),
        ("public_url", "https://example.com/?x=1"),
        ("verify_email_path", "verify"),
        ("reset_password_path", "/a/../b"),
        ("reset_password_path", "/reset?x"),
    ],
)
def test_bad_link_settings_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})


async def test_links_and_pages_follow_the_configured_paths(
    outbox: Outbox, set_env: Callable[..., None]
) -> None:
    set_env(PUBLIC_URL="https://items.example.com", VERIFY_EMAIL_PATH="/account/verify")
    message = verification_email("kit@example.com", "t.o.k")
    assert "https://items.example.com/account/verify?token=t.o.k" in body_of(message)
    transport = httpx.ASGITransport(app=create_application())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        moved = await http.get("/account/verify?token=x")
        assert (moved.status_code, heading_of(moved)) == (400, "This link is not valid")
        assert (await http.get("/verify-email?token=x")).status_code == 404


def test_serve_on_another_port_sends_links_there(
    monkeypatch: pytest.MonkeyPatch, set_env: Callable[..., None]
) -> None:
    set_env(PORT="8000", HOST="127.0.0.1")  # restored after the test, as serve sets them
    seen: dict[str, str] = {}
    monkeypatch.setattr(cli, "embedded_worker", lambda _settings: contextlib.nullcontext())
    monkeypatch.setattr(
        cli.server, "serve", lambda *_args, **_kwargs: seen.update(base=get_settings().link_base)
    )
    args = argparse.Namespace(host=None, port=9123, workers=None, reload=False)
    assert cli.cmd_serve(args) == 0
    assert seen["base"] == "http://127.0.0.1:9123"
