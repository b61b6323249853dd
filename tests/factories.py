"""Small factories for test data. Each takes overrides for any field."""

from __future__ import annotations

import itertools
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.security import create_access_token, get_password_hash
from app.models.item import Item
from app.models.user import User

PASSWORD = "Correct-Horse-9"
_counter = itertools.count(1)
# Unique across runs too: committed rows from black-box tests never collide with these.
_RUN = secrets.token_hex(3)


async def make_user(session: AsyncSession, **overrides: Any) -> User:
    n = next(_counter)
    password = overrides.pop("password", PASSWORD)
    fields: dict[str, Any] = {
        "email": f"user{n}-{_RUN}@example.com",
        "hashed_password": get_password_hash(password),
        "full_name": f"User {n}",
        "is_verified": True,
    }
    fields.update(overrides)
    user = User(**fields)
    session.add(user)
    await session.flush()
    return user


async def make_item(session: AsyncSession, owner: User, **overrides: Any) -> Item:
    n = next(_counter)
    fields: dict[str, Any] = {"title": f"Item {n}", "price": Decimal("9.99"), "owner_id": owner.id}
    fields.update(overrides)
    item = Item(**fields)
    session.add(item)
    await session.flush()
    return item


def auth_headers(user: User) -> dict[str, str]:
    token = create_access_token(subject=user.id, extra_claims={"ver": user.token_version})
    return {"Authorization": f"Bearer {token}"}


async def committed_user_headers(factory: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """The bearer header of a new user committed for real (for tests that use a live server)."""
    async with factory.begin() as session:
        return auth_headers(await make_user(session))
