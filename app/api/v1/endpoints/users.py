from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from app.api.params import CursorPagination, UserId
from app.api.responses import AUTH_ERRORS, errors, link, links
from app.dependencies import CurrentUser, ItemServiceDep, Superuser, UserServiceDep
from app.models.user import User
from app.schemas.common import MessageResponse, PaginatedResponse
from app.schemas.item import ItemQuery, ItemResponse
from app.schemas.user import (
    UserAdminUpdate,
    UserCreate,
    UserQuery,
    UserResponse,
    UserUpdate,
    UserWithItems,
    profile_with_items,
)
from app.services.base import Page

router = APIRouter(prefix="/users", tags=["users"])

_USER_ID = {"user_id": "$response.body#/id"}
USER_LINKS = {
    "ReadUser": link("read_user", "Read the profile", parameters=_USER_ID),
    "UpdateUser": link("update_user", "Change the user (superuser)", parameters=_USER_ID),
    "DeleteUser": link("delete_user", "Delete the user (superuser)", parameters=_USER_ID),
    "ListUserItems": link("list_user_items", "The user's items", parameters=_USER_ID),
}
_CREDENTIALS = {"email": "$request.body#/email", "password": "$request.body#/password"}
REGISTRATION_LINKS = {
    **USER_LINKS,
    "Login": link("login", "Log in with the new account", body=_CREDENTIALS),
}


@router.post(
    "",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    responses=errors(409, 422) | links(201, **REGISTRATION_LINKS),
)
async def register_user(data: UserCreate, users: UserServiceDep) -> User:
    """Create an account and e-mail a verification link. Role fields are ignored."""
    return await users.register(data)


@router.get("", response_model=PaginatedResponse[UserResponse], responses=AUTH_ERRORS | errors(422))
async def list_users(
    query: Annotated[UserQuery, Query()],
    paging: CursorPagination,
    _: Superuser,
    users: UserServiceDep,
) -> Page[Any]:
    """List users, searched by e-mail or name (superuser only); `cursor` for deep pages."""
    return await users.search(query, paging=paging)


@router.get("/me", response_model=UserWithItems, responses=AUTH_ERRORS | links(200, **USER_LINKS))
async def read_me(user: CurrentUser, users: UserServiceDep) -> dict[str, Any]:
    """Your profile, with your most recent items (at most 100)."""
    return profile_with_items(user, await users.recent_items(user))


@router.patch("/me", response_model=UserResponse, responses=AUTH_ERRORS | errors(422))
async def update_me(data: UserUpdate, user: CurrentUser, users: UserServiceDep) -> User:
    """Change your name, bio or password (with `current_password`; signs you out everywhere)."""
    return await users.update_me(user, data)


@router.delete("/me", response_model=MessageResponse, responses=AUTH_ERRORS)
async def delete_me(user: CurrentUser, users: UserServiceDep) -> MessageResponse:
    """Delete your account and your items."""
    await users.delete(user)
    return MessageResponse(message="Account deleted")


@router.get("/{user_id:int}", response_model=UserResponse, responses=AUTH_ERRORS | errors(404))
async def read_user(user_id: UserId, _: CurrentUser, users: UserServiceDep) -> User:
    """A user's profile."""
    return await users.get_by_id(user_id)


@router.patch(
    "/{user_id:int}", response_model=UserResponse, responses=AUTH_ERRORS | errors(404, 409)
)
async def update_user(
    user_id: UserId, data: UserAdminUpdate, admin: Superuser, users: UserServiceDep
) -> User:
    """Change any user, roles included (superuser only; not your own role or status)."""
    return await users.update_as_admin(await users.get_by_id(user_id), data, by=admin)


@router.delete(
    "/{user_id:int}", response_model=MessageResponse, responses=AUTH_ERRORS | errors(404)
)
async def delete_user(user_id: UserId, _: Superuser, users: UserServiceDep) -> MessageResponse:
    """Delete a user and their items (superuser only)."""
    await users.delete(await users.get_by_id(user_id))
    return MessageResponse(message="User deleted")


@router.get(
    "/{user_id:int}/items",
    response_model=PaginatedResponse[ItemResponse],
    responses=AUTH_ERRORS | errors(404),
)
async def list_user_items(
    user_id: UserId,
    _: CurrentUser,
    users: UserServiceDep,
    items: ItemServiceDep,
    paging: CursorPagination,
) -> Page[Any]:
    """A user's items, newest first; `cursor` for deep pages."""
    owner = await users.get_by_id(user_id)
    return await items.search(ItemQuery(), paging=paging, owner_id=owner.id)
