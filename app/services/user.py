from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from app.core.security import (
    create_email_verification_token,
    current_dummy_hash_async,
    hash_password_async,
    verify_and_update_password_async,
)
from app.db.base import utcnow
from app.db.cascade import cascade_statements
from app.db.session import SessionDep
from app.exceptions import ConflictError, ForbiddenError, UnauthorizedError
from app.models.item import Item
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.schemas.user import UserAdminUpdate, UserCreate, UserQuery, UserResponse, UserUpdate
from app.services.base import BaseService
from app.services.pagination import Listing, contains, equals
from app.tasks.email import Mailer, MailerDep
from app.tasks.email_templates import password_changed_email, verification_email

RECENT_ITEMS_LIMIT = 100
INVALID_CREDENTIALS = "Incorrect email or password"

_USERS = User.__table__
# Sorted by id (the primary key) or e-mail (unique index); never reads password hashes.
USER_LIST = Listing(
    _USERS,
    UserQuery,
    filters={
        "q": contains(_USERS.c.email, _USERS.c.full_name),
        "is_active": equals(_USERS.c.is_active),
        "is_superuser": equals(_USERS.c.is_superuser),
    },
    columns=[_USERS.c[name] for name in UserResponse.model_fields],
)
_ITEMS = Item.__table__
# Built once, as `_BY_ID` in app/services/item.py; the (owner_id, created_at, id) index serves it.
_RECENT_ITEMS = (
    select(_ITEMS)
    .where(_ITEMS.c.owner_id == bindparam("owner_id"))
    .order_by(_ITEMS.c.created_at.desc(), _ITEMS.c.id.desc())
    .limit(bindparam("limit"))
)


class UserService(BaseService[User, UserCreate, UserUpdate]):
    model = User
    not_found_message = "User not found"
    listing = USER_LIST
    # Loading a user never loads their items: callers ask for them explicitly.
    load_options = (raiseload(User.items),)

    def __init__(self, session: AsyncSession, mailer: Mailer | None = None) -> None:
        super().__init__(session)
        # Without a mailer from the caller, messages wait in this one until the
        # caller sends them after its commit (see Mailer.deliver_pending).
        self.mailer = mailer or Mailer()

    async def get_by_email(self, email: str) -> User | None:
        query = self._select().where(User.email == email.lower())
        return (await self.session.scalars(query)).one_or_none()

    async def create(self, data: UserCreate, **extra: Any) -> User:
        # Hash before touching the database, so no transaction is open during it.
        hashed = await hash_password_async(data.password)
        if await self.get_by_email(data.email) is not None:
            raise ConflictError("Email already registered")
        fields = data.model_dump(exclude={"password"})
        user = User(**fields, **extra, hashed_password=hashed)
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # a concurrent registration won the race
            raise ConflictError("Email already registered") from exc
        return user

    async def register(self, data: UserCreate) -> User:
        """Public sign-up: a plain account, and an e-mail to verify its address."""
        user = await self.create(data)
        self.send_verification_email(user)
        return user

    def send_verification_email(self, user: User) -> None:
        token = create_email_verification_token(user.id, email=user.email)
        self.mailer.send(verification_email(user.email, token))

    async def update(self, user: User, data: UserUpdate | UserAdminUpdate | dict[str, Any]) -> User:
        changes = data if isinstance(data, dict) else data.model_dump(exclude_unset=True)
        changes.pop("current_password", None)
        password = changes.pop("password", None)
        email = changes.get("email")
        if email is not None and email != user.email:
            if await self.get_by_email(email):
                raise ConflictError("Email already registered")
            changes.setdefault("is_verified", False)  # nobody has proved this address yet
        # Hash before writing anything, so no write lock is held through the hash.
        hashed = await hash_password_async(password) if password is not None else None
        disabling = user.is_active and changes.get("is_active") is False
        await super().update(user, changes)
        if hashed is not None:
            await self.store_password_hash(user, hashed)
        elif disabling:
            # A disabled account keeps nothing: re-enabling it must not revive old tokens.
            await self.revoke_sessions(user)
        return user

    async def update_as_admin(self, user: User, data: UserAdminUpdate, *, by: User) -> User:
        """A superuser's change to any account; they cannot demote or disable themselves."""
        if user.id == by.id:
            if data.is_superuser is False:
                raise ForbiddenError("You cannot remove your own superuser role")
            if data.is_active is False:
                raise ForbiddenError("You cannot disable your own account")
        return await self.update(user, data)

    async def store_password_hash(
        self, user: User, hashed: str, *, replacing: str | None = None
    ) -> bool:
        """Store a new password hash, sign the user out everywhere, tell them by e-mail.

        With `replacing`, the change only happens if the stored hash is still that one
        (an atomic compare-and-set, so of two concurrent uses of one reset token only
        one wins); returns whether the password changed.
        """
        query = update(User).where(User.id == user.id).values(hashed_password=hashed)
        if replacing is not None:
            query = query.where(User.hashed_password == replacing)
        result = await self.session.execute(query)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await self.session.refresh(user, attribute_names=["hashed_password", "updated_at"])
        await self.revoke_sessions(user)
        self.mailer.send(password_changed_email(user.email, changed_at=utcnow()))
        return True

    async def change_own_password_check(self, user: User, current_password: str) -> None:
        ok, _ = await verify_and_update_password_async(current_password, user.hashed_password)
        if not ok:
            # The caller's token is fine, so not a 401 (which clients take for an expired
            # session); the request is well formed, so not a 422: the change is refused.
            raise ForbiddenError("Current password is incorrect")

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
        # What ON DELETE CASCADE does, written out from the foreign keys: the user's
        # rows in every table go on any SQLite connection, foreign keys on or not.
        for statement in cascade_statements(User.__tablename__, "user_id"):
            await self.session.execute(statement, {"user_id": user.id})
        self.session.expunge(user)

    async def authenticate(self, email: str, password: str) -> User:
        began_here = not self.session.in_transaction()
        user = await self.get_by_email(email)
        if began_here:
            # Only this lookup ran in the transaction: end it rather than hold a pooled
            # connection through the ~0.2 s hash. On SQLite it also drops the read
            # snapshot, which a concurrent login's write would otherwise make stale,
            # turning this login's own write into an immediate "database is locked".
            await self.session.commit()
        # Verify against a dummy hash for unknown e-mails: both cases cost the same.
        hashed = user.hashed_password if user is not None else await current_dummy_hash_async()
        ok, new_hash = await verify_and_update_password_async(password, hashed)
        if user is None or not ok:
            raise UnauthorizedError(INVALID_CREDENTIALS)
        if not user.is_active:
            raise UnauthorizedError("Account is disabled")
        if new_hash is not None:  # an older scheme (bcrypt) or parameters: upgrade it
            user.hashed_password = new_hash
            await self.session.flush()
        return user

    async def recent_items(
        self, user: User, limit: int = RECENT_ITEMS_LIMIT
    ) -> Sequence[Mapping[str, Any]]:
        """The user's newest items, as plain rows (read for display, not to be changed)."""
        return await self.rows(_RECENT_ITEMS, {"owner_id": user.id, "limit": limit})


async def get_user_service(session: SessionDep, mailer: MailerDep) -> UserService:
    return UserService(session, mailer)
