"""Login, refresh-token rotation with reuse detection, and logout."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.config import get_settings
from app.core.security import (
    create_access_token,
    create_refresh_token,
    decode_refresh_token,
    hash_token,
    new_family_id,
)
from app.db.base import utcnow
from app.db.session import SessionDep
from app.exceptions import UnauthorizedError
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.schemas.auth import TokenResponse
from app.services.user import UserService


class TokenReuseError(UnauthorizedError):
    """A rotated refresh token came back: its family is revoked, and that must stick."""

    commit_session = True


class AuthService:
    def __init__(self, users: UserService) -> None:
        self.users = users
        self.session = users.session

    async def login(self, email: str, password: str) -> TokenResponse:
        user = await self.users.authenticate(email, password)
        return await self.issue_tokens(user, family_id=new_family_id())

    async def issue_tokens(self, user: User, *, family_id: str) -> TokenResponse:
        settings = get_settings()
        refresh_token = create_refresh_token(user.id, family_id=family_id)
        self.session.add(
            RefreshToken(
                user_id=user.id,
                token_hash=hash_token(refresh_token),
                family_id=family_id,
                expires_at=utcnow() + timedelta(days=settings.refresh_token_expire_days),
            )
        )
        await self.session.flush()
        return TokenResponse(
            access_token=create_access_token(user.id, extra_claims={"ver": user.token_version}),
            refresh_token=refresh_token,
            expires_in=settings.access_token_expire_minutes * 60,
        )

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Spend a refresh token for a new pair; a second spend revokes the family."""
        row = await self._stored(refresh_token)
        now = utcnow()
        if row.revoked_at is not None or row.expires_at <= now:
            raise UnauthorizedError("Refresh token has been revoked or has expired")
        # Claim the row atomically: of two concurrent refreshes, exactly one wins.
        claimed = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == row.id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await self.revoke_family(row.family_id, at=now)
            raise TokenReuseError("Refresh token reuse detected; the session has been revoked")
        user = await self.users.session.get(User, row.user_id, options=self.users.load_options)
        if user is None or not user.is_active:
            raise UnauthorizedError("Account is disabled")
        return await self.issue_tokens(user, family_id=row.family_id)

    async def logout(self, refresh_token: str) -> None:
        row = await self._stored(refresh_token)
        await self.revoke_family(row.family_id, at=utcnow())

    async def logout_all(self, user: User) -> None:
        await self.users.revoke_sessions(user)

    async def revoke_family(self, family_id: str, *, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def purge_expired(self) -> int:
        """Delete refresh tokens past their expiry; returns how many went."""
        result = await self.session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at <= utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _stored(self, refresh_token: str) -> RefreshToken:
        decode_refresh_token(refresh_token)  # signature, expiry and purpose first
        row = await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
        if row is None:
            raise UnauthorizedError("Invalid refresh token")
        return row


async def get_auth_service(session: SessionDep) -> AuthService:
    return AuthService(UserService(session))
