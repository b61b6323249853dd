"""E-mail verification, password reset and the password-changed notice, end to end.

E-mails go to a real SMTP server started in-process (or to the outbox folder); the
tokens are taken from the received messages, as a user would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import (
    TokenType,
    encode_token,
    get_password_hash,
    password_digest,
)
from app.services.auth import RESET_TOKEN_SPENT
from app.services.user import UserService
from tests.factories import PASSWORD, auth_headers, make_user
from tests.mail import Inbox, Outbox, body_of, token_in
from tests.test_auth_api import assert_unauthorized, bearer, login, message

pytestmark = pytest.mark.usefixtures("database_url")
AUTH = "/api/v1/auth"
USERS = "/api/v1/users"
NEW_PASSWORD = "Fresh-Start-42"


def only_message_to(inbox: Inbox, address: str, subject_word: str) -> EmailMessage:
    """The one message to `address` whose subject mentions `subject_word`."""
    matching = [r for r in inbox.to(address) if subject_word in r.message["Subject"]]
    assert len(matching) == 1, [r.message["Subject"] for r in inbox.to(address)]
    return matching[0].message


def token_to(inbox: Inbox, address: str, subject_word: str) -> str:
    return token_in(only_message_to(inbox, address, subject_word))


async def register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(USERS, json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def test_registration_sends_a_link_that_verifies(
    client: httpx.AsyncClient, smtp_server: Inbox
) -> None:
    await register(client, "Grace@Example.com")
    token = token_to(smtp_server, "grace@example.com", "Confirm")
    tokens = await login(client, "grace@example.com")
    assert (await client.get(f"{USERS}/me", headers=bearer(tokens["access_token"]))).json()[
        "is_verified"
    ] is False
    response = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Your e-mail address is verified.", "success": True}
    me = await client.get(f"{USERS}/me", headers=bearer(tokens["access_token"]))
    assert me.json()["is_verified"] is True
    again = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert again.status_code == 200  # verifying twice changes nothing


async def test_failed_registration_sends_nothing(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session)
    response = await client.post(USERS, json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 409
    assert smtp_server.received == []


async def test_verification_can_be_requested_again(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session, is_verified=False)
    response = await client.post(f"{AUTH}/verify-email/request", headers=auth_headers(user))
    assert response.status_code == 202
    assert response.json()["message"] == "A verification link has been sent to your address."
    token = token_to(smtp_server, user.email, "Confirm")
    assert (await client.post(f"{AUTH}/verify-email", json={"token": token})).status_code == 200
    response = await client.post(f"{AUTH}/verify-email/request", headers=auth_headers(user))
    assert response.status_code == 202
    assert response.json()["message"] == "Your e-mail address is already verified."
    assert len(smtp_server.to(user.email)) == 1  # nothing more sent


async def test_verification_request_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.post(f"{AUTH}/verify-email/request"))


async def test_verification_token_for_a_changed_address_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session, is_verified=False)
    admin = await make_user(session, is_superuser=True)
    await client.post(f"{AUTH}/verify-email/request", headers=auth_headers(user))
    token = token_to(smtp_server, user.email, "Confirm")
    changed = await client.patch(
        f"{USERS}/{user.id}", json={"email": "moved@example.com"}, headers=auth_headers(admin)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_verified"] is False
    refused = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert_unauthorized(refused)
    assert message(refused) == "Invalid token"


async def test_changing_a_verified_address_needs_verifying_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, is_verified=True)
    admin = await make_user(session, is_superuser=True)
    url, headers = f"{USERS}/{user.id}", auth_headers(admin)
    moved = await client.patch(url, json={"email": "new-home@example.com"}, headers=headers)
    assert moved.json()["is_verified"] is False
    vouched = {"email": "third@example.com", "is_verified": True}  # an admin may vouch
    assert (await client.patch(url, json=vouched, headers=headers)).json()["is_verified"] is True
    same = await client.patch(url, json={"email": "third@example.com"}, headers=headers)
    assert same.json()["is_verified"] is True


async def test_verified_address_required_for_items_when_configured(
    client: httpx.AsyncClient,
    session: AsyncSession,
    smtp_server: Inbox,
    set_env: Callable[..., None],
) -> None:
    set_env(REQUIRE_VERIFIED_EMAIL_FOR_ITEMS="true")
    user = await make_user(session, is_verified=False)
    item = {"title": "Lamp", "price": "5.00"}
    refused = await client.post("/api/v1/items", json=item, headers=auth_headers(user))
    assert refused.status_code == 403
    await client.post(f"{AUTH}/verify-email/request", headers=auth_headers(user))
    token = token_to(smtp_server, user.email, "Confirm")
    await client.post(f"{AUTH}/verify-email", json={"token": token})
    created = await client.post("/api/v1/items", json=item, headers=auth_headers(user))
    assert created.status_code == 201, created.text


async def request_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(f"{AUTH}/password-reset/request", json={"email": email})


async def reset(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        f"{AUTH}/password-reset", json={"token": token, "new_password": password}
    )


async def test_password_reset_end_to_end(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session, is_verified=False)
    old = await login(client, user.email)
    response = await request_reset(client, user.email.upper())
    assert response.status_code == 202
    token = token_to(smtp_server, user.email, "Reset")

    done = await reset(client, token)
    assert done.status_code == 200, done.text
    assert_unauthorized(await client.get(f"{USERS}/me", headers=bearer(old["access_token"])))
    stale = await client.post(f"{AUTH}/refresh", json={"refresh_token": old["refresh_token"]})
    assert_unauthorized(stale)
    wrong = await client.post(f"{AUTH}/login", json={"email": user.email, "password": PASSWORD})
    assert_unauthorized(wrong)
    fresh = await login(client, user.email, NEW_PASSWORD)
    me = await client.get(f"{USERS}/me", headers=bearer(fresh["access_token"]))
    assert me.json()["is_verified"] is True  # the link reached the mailbox
    notice = only_message_to(smtp_server, user.email, "was changed")
    assert "reset-password" in body_of(notice)
    for received in smtp_server.received:
        body = received.message.as_string()
        assert PASSWORD not in body
        assert NEW_PASSWORD not in body


async def test_reset_token_works_once(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session)
    await request_reset(client, user.email)
    token = token_to(smtp_server, user.email, "Reset")
    done = await reset(client, token)
    assert done.status_code == 200
    assert done.json()["message"] == "Your password has been reset; sign in with it."
    again = await reset(client, token, "Third-Password-3")
    assert_unauthorized(again)
    assert message(again) == RESET_TOKEN_SPENT
    await login(client, user.email, NEW_PASSWORD)


async def test_reset_token_dies_when_the_password_changes_otherwise(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session)
    await request_reset(client, user.email)
    token = token_to(smtp_server, user.email, "Reset")
    changed = await client.patch(
        f"{USERS}/me",
        json={"password": "Changed-Myself-1", "current_password": PASSWORD},
        headers=auth_headers(user),
    )
    assert changed.status_code == 200
    assert_unauthorized(await reset(client, token))
    await login(client, user.email, "Changed-Myself-1")


@pytest.mark.parametrize("subject", ["disabled", "deleted", "not-a-number"])
async def test_reset_token_of_no_active_user_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, subject: str
) -> None:
    user = await make_user(session, is_active=subject != "disabled")
    sub: int | str = {"deleted": user.id + 1_000_000, "not-a-number": "abc"}.get(subject, user.id)
    claims = {"pwd": password_digest(user.hashed_password)}
    token = encode_token(sub, TokenType.PASSWORD_RESET, timedelta(minutes=5), claims)
    refused = await reset(client, token)
    assert_unauthorized(refused)
    assert message(refused) == "Invalid token"


async def test_expired_reset_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    claims = {"pwd": password_digest(user.hashed_password)}
    token = encode_token(user.id, TokenType.PASSWORD_RESET, timedelta(seconds=-1), claims)
    response = await reset(client, token)
    assert_unauthorized(response)
    assert response.json()["error"]["message"] == "Token has expired"
    await login(client, user.email)


async def test_unknown_email_reset_answers_exactly_like_a_known_one(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session)
    known = await request_reset(client, user.email)
    unknown = await request_reset(client, "nobody-here@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    ignored = {"date", "x-request-id"}
    assert {k: v for k, v in known.headers.items() if k not in ignored} == {
        k: v for k, v in unknown.headers.items() if k not in ignored
    }
    assert smtp_server.to("nobody-here@example.com") == []
    assert len(smtp_server.to(user.email)) == 1


async def test_disabled_account_gets_no_reset_email(
    client: httpx.AsyncClient, session: AsyncSession, smtp_server: Inbox
) -> None:
    user = await make_user(session, is_active=False)
    assert (await request_reset(client, user.email)).status_code == 202
    assert smtp_server.received == []


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b@c", "x" * 400 + "@example.com"])
async def test_reset_request_for_a_malformed_address_is_a_validation_error(
    client: httpx.AsyncClient, email: str
) -> None:
    response = await request_reset(client, email)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_weak_new_password_is_refused_and_the_token_survives(
    client: httpx.AsyncClient, session: AsyncSession, outbox: Outbox
) -> None:
    user = await make_user(session)
    await request_reset(client, user.email)
    [message] = outbox.to(user.email)
    token = token_in(message)
    weak = await reset(client, token, "short")
    assert weak.status_code == 422
    await login(client, user.email)  # nothing changed
    assert (await reset(client, token)).status_code == 200


async def test_password_change_sends_a_notice_without_the_password(
    client: httpx.AsyncClient, session: AsyncSession, outbox: Outbox
) -> None:
    user = await make_user(session)
    response = await client.patch(
        f"{USERS}/me",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=auth_headers(user),
    )
    assert response.status_code == 200
    [notice] = outbox.to(user.email)
    assert "password was changed" in notice["Subject"]
    raw = b"".join(path.read_bytes() for path in outbox.files())
    assert NEW_PASSWORD.encode() not in raw
    assert PASSWORD.encode() not in raw


async def test_a_stale_reset_cannot_overwrite_a_newer_password(session: AsyncSession) -> None:
    """Two uses of one token at once: the compare-and-set lets only the first through."""
    user = await make_user(session)
    users = UserService(session)
    issued_against = user.hashed_password
    first, second = get_password_hash(NEW_PASSWORD), get_password_hash("Too-Late-Pass1")
    assert await users.store_password_hash(user, first, replacing=issued_against)
    assert not await users.store_password_hash(user, second, replacing=issued_against)
    assert user.hashed_password != issued_against
    assert (await users.authenticate(user.email, NEW_PASSWORD)).id == user.id
