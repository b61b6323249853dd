"""The service layer on its own, as the outside test-suite drives it (SPEC section 2)."""

from __future__ import annotations

from decimal import Decimal

import bcrypt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import verify_password
from app.exceptions import ConflictError, NotFoundError, UnauthorizedError
from app.models.item import Item
from app.models.user import User
from app.schemas.item import ItemCreate, ItemUpdate
from app.schemas.user import UserCreate
from app.services.item import ItemService
from app.services.user import UserService
from tests.factories import PASSWORD, make_item, make_user

pytestmark = pytest.mark.usefixtures("database_url")


async def test_create_hashes_the_password(session: AsyncSession) -> None:
    user = await UserService(session).create(UserCreate(email="Svc@Example.com", password=PASSWORD))
    assert user.id is not None
    assert user.email == "svc@example.com"
    assert user.hashed_password.startswith("$argon2id$")
    assert verify_password(PASSWORD, user.hashed_password)


async def test_create_refuses_a_taken_email(session: AsyncSession) -> None:
    await make_user(session, email="dup@example.com")
    with pytest.raises(ConflictError, match="Email already registered"):
        await UserService(session).create(UserCreate(email="DUP@example.com", password=PASSWORD))


async def test_get_by_id_raises_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await UserService(session).get_by_id(2_000_000_000)


async def test_get_by_email_ignores_case(session: AsyncSession) -> None:
    user = await make_user(session, email="case@example.com")
    assert await UserService(session).get_by_email("CASE@example.com") is user


async def test_authenticate(session: AsyncSession) -> None:
    user = await make_user(session)
    service = UserService(session)
    assert await service.authenticate(user.email, PASSWORD) is user
    with pytest.raises(UnauthorizedError):
        await service.authenticate(user.email, "Wrong-Pass-1")
    with pytest.raises(UnauthorizedError):
        await service.authenticate("nobody@example.com", PASSWORD)
    user.is_active = False
    with pytest.raises(UnauthorizedError):
        await service.authenticate(user.email, PASSWORD)


async def test_bcrypt_hash_is_verified_and_upgraded(session: AsyncSession) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    user = await make_user(session, hashed_password=legacy)
    assert await UserService(session).authenticate(user.email, PASSWORD) is user
    assert user.hashed_password.startswith("$argon2id$")


async def test_items_usable_after_refresh(session: AsyncSession) -> None:
    user = await UserService(session).create(
        UserCreate(email="items@example.com", password=PASSWORD)
    )
    await make_item(session, user, title="First")
    await session.refresh(user)
    assert [item.title for item in user.items] == ["First"]


async def test_models_need_only_required_fields(session: AsyncSession) -> None:
    user = User(email="min@example.com", hashed_password="x")
    session.add(user)
    await session.flush()
    item = Item(title="Min", price=Decimal("1.50"), owner_id=user.id)
    session.add(item)
    await session.flush()
    await session.refresh(item)
    assert (user.is_active, user.is_superuser, user.is_verified) == (True, False, False)
    assert item.created_at.tzinfo is not None
    assert item.price == Decimal("1.50")


async def test_item_service_crud(session: AsyncSession) -> None:
    owner = await make_user(session)
    service = ItemService(session)
    item = await service.create(ItemCreate(title="Crud", price=Decimal("2")), owner_id=owner.id)
    assert (await service.get_by_id(item.id)).title == "Crud"
    await service.update(item, ItemUpdate(price=Decimal("3.25")))
    assert item.price == Decimal("3.25")
    page = await service.get_paginated(1, 10)
    assert page.total >= 1
    await service.delete(item)
    with pytest.raises(NotFoundError):
        await service.get_by_id(item.id)


async def test_other_users_item_is_not_found_for_owner_check(session: AsyncSession) -> None:
    item = await make_item(session, await make_user(session))
    stranger = await make_user(session)
    admin = await make_user(session, is_superuser=True)
    with pytest.raises(NotFoundError):
        await ItemService(session).get_owned(item.id, by=stranger)
    assert await ItemService(session).get_owned(item.id, by=admin) is item
