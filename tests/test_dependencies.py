"""The authentication dependencies, called directly: who gets through, and what others are told.

`get_current_verified_user` and `get_optional_user` are public names for endpoints to
come (no route uses them yet), so they are tested here rather than through a route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.core.security import create_access_token, create_refresh_token
from app.dependencies import (
    get_current_active_user,
    get_current_superuser,
    get_current_user,
    get_current_verified_user,
    get_item_author,
    get_optional_user,
)
from app.exceptions import AppError, ForbiddenError, UnauthorizedError
from app.models.user import User
from app.services.user import UserService
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("database_url")


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})


def _token(user: User, **claims: object) -> str:
    return create_access_token(user.id, extra_claims={"ver": user.token_version, **claims})


async def _refusal(session: AsyncSession, token: str | None) -> AppError:
    with pytest.raises(UnauthorizedError) as refused:
        await get_current_user(_request(), token, session)
    return refused.value


async def test_the_caller_is_the_tokens_user_and_is_remembered_for_rate_limits(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    request = _request()
    assert await get_current_user(request, _token(user), session) is user
    assert request.state.user_id == user.id


async def test_a_token_without_a_version_is_valid_until_the_first_revocation(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    plain = create_access_token(subject=user.id)  # the form outside callers rely on
    assert await get_current_user(_request(), plain, session) is user
    await UserService(session).revoke_sessions(user)
    assert (await _refusal(session, plain)).message == "Token has been revoked"
    assert await get_current_user(_request(), _token(user), session) is user


async def test_each_refusal_names_its_reason(session: AsyncSession) -> None:
    user = await make_user(session)
    assert (await _refusal(session, None)).message == "Not authenticated"
    assert (await _refusal(session, "")).message == "Not authenticated"
    not_a_number = create_access_token("abc")
    assert (await _refusal(session, not_a_number)).message == "Invalid token"
    nobody = create_access_token(user.id + 1_000_000)
    assert (await _refusal(session, nobody)).message == "Invalid token"
    stale = _token(user, ver=user.token_version + 1)
    assert (await _refusal(session, stale)).message == "Token has been revoked"
    refresh = create_refresh_token(user.id)
    assert (await _refusal(session, refresh)).message == "Invalid token"


@pytest.mark.parametrize(
    ("dependency", "fields", "message"),
    [
        (get_current_active_user, {"is_active": False}, "Account is disabled"),
        (get_current_superuser, {}, "Superuser privileges required"),
        (get_current_verified_user, {"is_verified": False}, "Verify your e-mail address first"),
    ],
)
async def test_roles_refuse_with_their_reason(
    session: AsyncSession,
    dependency: Callable[[User], Awaitable[User]],
    fields: dict[str, object],
    message: str,
) -> None:
    user = await make_user(session, **fields)
    with pytest.raises(ForbiddenError) as refused:
        await dependency(user)
    assert refused.value.message == message


async def test_roles_let_the_right_users_through(session: AsyncSession) -> None:
    admin = await make_user(session, is_superuser=True, is_verified=True)
    for dependency in (get_current_active_user, get_current_superuser, get_current_verified_user):
        assert await dependency(admin) is admin


async def test_item_authors_must_be_verified_only_when_configured(
    session: AsyncSession, set_env: Callable[..., None]
) -> None:
    unverified = await make_user(session, is_verified=False)
    assert await get_item_author(unverified) is unverified
    set_env(REQUIRE_VERIFIED_EMAIL_FOR_ITEMS="true")
    with pytest.raises(ForbiddenError, match=r"^Verify your e-mail address first$"):
        await get_item_author(unverified)
    verified = await make_user(session, is_verified=True)
    assert await get_item_author(verified) is verified


async def test_the_optional_caller_is_an_active_user_with_a_valid_token_or_nobody(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    disabled = await make_user(session, is_active=False)
    assert await get_optional_user(_token(user), session) is user
    assert await get_optional_user(None, session) is None
    assert await get_optional_user("", session) is None
    assert await get_optional_user("not-a-token", session) is None
    assert await get_optional_user(_token(user, ver=99), session) is None
    assert await get_optional_user(_token(disabled), session) is None
