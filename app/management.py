"""Administrative jobs behind the CLI: superusers, demo data, token purge."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import get_password_hash
from app.db.base import utcnow
from app.db.bulk import load_rows
from app.db.session import dispose_engine, get_session_factory, session_scope
from app.models.item import Item
from app.models.user import User
from app.schemas.user import UserCreate
from app.services.admin_session import AdminSessionService
from app.services.auth import AuthService
from app.services.user import UserService
from app.tasks.email import Mailer

# fmt: off
_WORDS = (
    "vintage", "oak", "walnut", "steel", "linen", "wool", "ceramic", "brass", "copper",
    "leather", "cotton", "glass", "lamp", "chair", "table", "desk", "shelf", "rug", "vase",
    "mug", "bowl", "clock", "mirror", "stool", "bench", "frame",
)
# fmt: on


async def _in_session(job: Any) -> Any:
    try:
        async with session_scope(get_session_factory()) as session:
            return await job(session)
    finally:
        await dispose_engine()


async def create_superuser(email: str, password: str) -> int:
    """Create a verified superuser, or promote an existing account."""
    data = UserCreate(email=email, password=password)  # same rules as registration
    mailer = Mailer()  # a changed password is notified, once the change is committed

    async def job(session: AsyncSession) -> int:
        users = UserService(session, mailer)
        user = await users.get_by_email(data.email)
        if user is None:
            user = await users.create(data)
        else:
            await users.update(user, {"password": data.password})
        await users.update(user, {"is_superuser": True, "is_verified": True, "is_active": True})
        return user.id

    result: int = await _in_session(job)
    await mailer.deliver_pending()
    return result


async def seed(user_count: int, item_count: int, *, password: str) -> tuple[int, int]:
    """Bulk-load demo users and items (one password hash shared by every demo user).

    Items are spread evenly over the new users, newest first, one second apart;
    PostgreSQL loads through COPY (a million items take seconds).
    """
    hashed = get_password_hash(password)

    async def job(session: AsyncSession) -> tuple[int, int]:
        first = (await session.scalar(select(func.max(User.id)))) or 0
        stamp = utcnow()
        users = (
            (f"demo{first + n}@example.com", hashed, f"Demo User {first + n}", True, stamp, stamp)
            for n in range(1, user_count + 1)
        )
        await load_rows(session, User, _USER_COLUMNS, users)
        owner_ids = list(
            # the new users; with none, the newest existing one owns the items
            (
                await session.scalars(
                    select(User.id).order_by(User.id.desc()).limit(max(user_count, 1))
                )
            ).all()
        )
        if not owner_ids:
            return user_count, 0
        rng = random.Random(item_count)
        items = (_demo_item(rng, n, owner_ids, stamp) for n in range(item_count))
        await load_rows(session, Item, _ITEM_COLUMNS, items)
        return user_count, item_count

    result: tuple[int, int] = await _in_session(job)
    return result


_USER_COLUMNS = ("email", "hashed_password", "full_name", "is_verified", "created_at", "updated_at")
_ITEM_COLUMNS = ("title", "description", "price", "owner_id", "created_at", "updated_at")


def _demo_item(
    rng: random.Random, n: int, owner_ids: list[int], stamp: datetime
) -> tuple[Any, ...]:
    created = stamp - timedelta(seconds=n)
    return (
        f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} #{n}",
        " ".join(rng.choices(_WORDS, k=8)),
        Decimal(rng.randint(100, 100_000)) / 100,
        owner_ids[n % len(owner_ids)],
        created,
        created,
    )


async def purge_tokens() -> int:
    """Delete expired refresh tokens and ended admin console sessions; returns how many."""

    async def job(session: AsyncSession) -> int:
        users = UserService(session)
        tokens = await AuthService(users).purge_expired()
        return tokens + await AdminSessionService(users).purge_expired()

    result: int = await _in_session(job)
    return result
