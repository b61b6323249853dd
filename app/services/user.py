from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import raiseload

from app.core.security import (
    current_dummy_hash,
    hash_password_async,
    verify_and_update_password_async,
)
from app.db.base import utcnow
from app.db.session import SessionDep
from app.exceptions import ConflictError, UnauthorizedError
from app.models.item import Item
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.schemas.user import UserAdminUpdate, UserCreate, UserUpdate
from app.services.base import BaseService

RECENT_ITEMS_LIMIT = 100
INVALID_CREDENTIALS = "Incorrect email or password"


class UserService(BaseService[User, UserCreate, UserUpdate]):
    model = User
    not_found_message = "User not found"
    # Loading a user never loads their items: callers ask for them explicitly.
    load_options = (raiseload(User.items),)

    async def get_by_email(self, email: str) -> User | None:
        query = self._select().where(User.email == email.lower())
        return (await self.session.scalars(query)).one_or_none()

    async def create(self, data: UserCreate, **extra: Any) -> User:
        if await self.get_by_email(data.email) is not None:
            raise ConflictError("Email already registered")
        hashed = await hash_password_async(data.password)
        fields = data.model_dump(exclude={"password"})
        user = User(**fields, **extra, hashed_password=hashed)
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # a concurrent registration won the race
            raise ConflictError("Email already registered") from exc
        return user

    async def update(self, user: User, data: UserUpdate | UserAdminUpdate | dict[str, Any]) -> User:
        changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
        changes.pop("current_password", None)
        password = changes.pop("password", None)
        email = changes.get("email")
        if email is not None and email != user.email and await self.get_by_email(email):
            raise ConflictError("Email already registered")
        if password is not None:
            changes["hashed_password"] = await hash_password_async(password)
        await super().update(user, changes)
        if password is not None:
            await self.revoke_sessions(user)
        return user

    async def change_own_password_check(self, user: User, current_password: str) -> None:
        ok, _ = await verify_and_update_password_async(current_password, user.hashed_password)
        if not ok:
            raise UnauthorizedError("Current password is incorrect")

    async def update_me(self, user: User, data: UserUpdate) -> User:
        if data.password is not None and data.current_password is not None:
            await self.change_own_password_check(user, data.current_password)
        return await self.update(user, data)

    async def revoke_sessions(self, user: User) -> None:
        """Invalidate every access token issued so far and every refresh token."""
        await self.session.execute(
            update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
        )
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await self.session.refresh(user, attribute_names=["token_version"])

    async def delete(self, user: User) -> None:
        # Explicit deletes, so items go on any SQLite connection, foreign keys on or not.
        for statement in (
            delete(Item).where(Item.owner_id == user.id),
            delete(RefreshToken).where(RefreshToken.user_id == user.id),
            delete(User).where(User.id == user.id),
        ):
            await self.session.execute(statement)
        self.session.expunge(user)

    async def authenticate(self, email: str, password: str) -> User:
        user = await self.get_by_email(email)
        # Verify against a dummy hash for unknown e-mails: both cases cost the same.
        hashed = user.hashed_password if user is not None else current_dummy_hash()
        ok, new_hash = await verify_and_update_password_async(password, hashed)
        if user is None or not ok:
            raise UnauthorizedError(INVALID_CREDENTIALS)
        if not user.is_active:
            raise UnauthorizedError("Account is disabled")
        if new_hash is not None:  # an older scheme (bcrypt) or parameters: upgrade it
            user.hashed_password = new_hash
            await self.session.flush()
        return user

    async def recent_items(self, user: User, limit: int = RECENT_ITEMS_LIMIT) -> Sequence[Item]:
        query = (
            select(Item)
            .where(Item.owner_id == user.id)
            .order_by(Item.created_at.desc(), Item.id.desc())
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()


async def get_user_service(session: SessionDep) -> UserService:
    return UserService(session)
