"""Request dependencies: who is calling, and the services endpoints use.

Authentication reads the bearer token, checks it is an unexpired access token,
and loads the user row alone (never their items) through the request's session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import raiseload

from app.config import get_settings
from app.core.security import decode_access_token
from app.db.session import SessionDep
from app.exceptions import ForbiddenError, UnauthorizedError
from app.models.user import User
from app.services.auth import AuthService, get_auth_service
from app.services.item import ItemService, get_item_service
from app.services.job import JobService, get_job_service
from app.services.user import UserService, get_user_service

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=f"{get_settings().api_prefix}/auth/login", auto_error=False
)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]

# Built once: constructing a statement (and its cache key) on every request costs
# more CPU than running it. The identity map still applies, as with session.get().
_USER_BY_ID = select(User).where(User.id == bindparam("user_id")).options(raiseload(User.items))


async def _user_from_token(token: str, session: SessionDep) -> User:
    claims = decode_access_token(token)
    try:
        user_id = int(claims["sub"])
    except ValueError as exc:
        raise UnauthorizedError("Invalid token") from exc
    user = (await session.execute(_USER_BY_ID, {"user_id": user_id})).scalar_one_or_none()
    if user is None:
        raise UnauthorizedError("Invalid token")
    if claims.get("ver", 0) != user.token_version:
        raise UnauthorizedError("Token has been revoked")
    return user


async def get_current_user(request: Request, token: TokenDep, session: SessionDep) -> User:
    if not token:
        raise UnauthorizedError("Not authenticated")
    user = await _user_from_token(token, session)
    request.state.user_id = user.id  # for per-user rate limits and logs
    return user


async def get_current_active_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_active:
        raise ForbiddenError("Account is disabled")
    return user


async def get_current_superuser(user: Annotated[User, Depends(get_current_active_user)]) -> User:
    if not user.is_superuser:
        raise ForbiddenError("Superuser privileges required")
    return user


async def get_current_verified_user(
    user: Annotated[User, Depends(get_current_active_user)],
) -> User:
    if not user.is_verified:
        raise ForbiddenError("Verify your e-mail address first")
    return user


async def get_optional_user(token: TokenDep, session: SessionDep) -> User | None:
    """The caller if a valid token came with the request; None otherwise."""
    if not token:
        return None
    try:
        user = await _user_from_token(token, session)
    except UnauthorizedError:
        return None
    return user if user.is_active else None


async def get_item_author(user: Annotated[User, Depends(get_current_active_user)]) -> User:
    """Who may create items: any active user, or only verified ones if so configured."""
    if get_settings().require_verified_email_for_items and not user.is_verified:
        raise ForbiddenError("Verify your e-mail address first")
    return user


CurrentUser = Annotated[User, Depends(get_current_active_user)]
Superuser = Annotated[User, Depends(get_current_superuser)]
ItemAuthor = Annotated[User, Depends(get_item_author)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
JobServiceDep = Annotated[JobService, Depends(get_job_service)]
