"""Administrative jobs behind the CLI: superusers, demo data, token purge."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import get_password_hash
from app.db.base import utcnow
from app.db.session import dispose_engine, get_session_factory, session_scope
from app.models.item import Item
from app.models.user import User
from app.schemas.user import UserCreate
from app.services.auth import AuthService
from app.services.user import UserService
from app.tasks.email import Mailer

SEED_BATCH = 5_000
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
    """Bulk-insert demo users and items (one password hash shared by every demo user)."""
    hashed = get_password_hash(password)

    async def job(session: AsyncSession) -> tuple[int, int]:
        first = (await session.scalar(select(func.max(User.id)))) or 0
        stamp = utcnow()
        for start in range(0, user_count, SEED_BATCH):
            rows = [
                {
                    "email": f"demo{first + n + 1}@example.com",
                    "hashed_password": hashed,
                    "full_name": f"Demo User {first + n + 1}",
                    "is_verified": True,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for n in range(start, min(start + SEED_BATCH, user_count))
            ]
            await session.execute(insert(User), rows)
        owner_ids = list(
            (
                await session.scalars(
                    select(User.id).order_by(User.id.desc()).limit(max(user_count, 1))
                )
            ).all()
        )
        if not owner_ids:
            return user_count, 0
        rng = random.Random(item_count)
        for start in range(0, item_count, SEED_BATCH):
            rows = [
                _demo_item(rng, n, owner_ids, stamp)
                for n in range(start, min(start + SEED_BATCH, item_count))
            ]
            await session.execute(insert(Item), rows)
        return user_count, item_count

    result: tuple[int, int] = await _in_session(job)
    return result


def _demo_item(rng: random.Random, n: int, owner_ids: list[int], stamp: Any) -> dict[str, Any]:
    created = stamp - timedelta(seconds=n)
    return {
        "title": f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} #{n}",
        "description": " ".join(rng.choices(_WORDS, k=8)),
        "price": Decimal(rng.randint(100, 100_000)) / 100,
        "owner_id": owner_ids[n % len(owner_ids)],
        "created_at": created,
        "updated_at": created,
    }


async def purge_tokens() -> int:
    async def job(session: AsyncSession) -> int:
        return await AuthService(UserService(session)).purge_expired()

    result: int = await _in_session(job)
    return result
