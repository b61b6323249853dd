"""Login, refresh-token rotation with reuse detection, logout, and the e-mail flows.

E-mail verification and password reset use one-purpose JWTs sent by e-mail. A
reset token carries a fingerprint of the password hash it was issued against, so
it works once and dies with any password change; a verification token carries the
address it was sent to.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from app.config import get_settings
from app.core.security import (
    TokenType,
    create_access_token,
    create_password_reset_token,
    create_refresh_token,
    decode_refresh_token,
    decode_token,
    hash_password_async,
    hash_token,
    new_family_id,
    password_reset_token_matches,
)
from app.db.base import utcnow
from app.db.session import SessionDep
from app.exceptions import UnauthorizedError
from app.models.refresh_token import RefreshToken
from app.models.user import User
from app.schemas.auth import TokenResponse
from app.schemas.common import MessageResponse
from app.services.user import UserService
from app.tasks.email import MailerDep
from app.tasks.email_templates import password_reset_email

RESET_REQUESTED = MessageResponse(
    message="If an account exists for this address, a password reset link has been sent."
)
RESET_TOKEN_SPENT = "Reset token has already been used or the password has changed since"
VERIFIED = "Your e-mail address is verified."
ALREADY_VERIFIED = "Your e-mail address was already verified."


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

    async def request_verification(self, user: User) -> MessageResponse:
        if user.is_verified:
            return MessageResponse(message="Your e-mail address is already verified.")
        self.users.send_verification_email(user)
        return MessageResponse(message="A verification link has been sent to your address.")

    async def verify_email(self, token: str) -> MessageResponse:
        """Mark the address the token was sent to as verified (again is harmless)."""
        user = await self.verification_user(token)
        if user.is_verified:
            return MessageResponse(message=ALREADY_VERIFIED)
        user.is_verified = True
        await self.session.flush()
        return MessageResponse(message=VERIFIED)

    async def verification_user(self, token: str) -> User:
        """The user a verification token names, if it is valid for their current address."""
        claims = decode_token(token, TokenType.EMAIL_VERIFICATION)
        user = await self._token_user(claims)
        if claims.get("email") != user.email:  # the address changed since it was sent
            raise UnauthorizedError("Invalid token")
        return user

    async def check_reset_token(self, token: str) -> None:
        """Raise what `reset_password` would raise for this token, changing nothing."""
        await self._reset_user(decode_token(token, TokenType.PASSWORD_RESET))

    async def request_password_reset(self, email: str) -> MessageResponse:
        """E-mail a reset link to an active account; answer the same either way.

        Both paths do the same work (one lookup, a token, the rendered message) and
        the sending happens after the response, so neither the answer nor its timing
        tells whether the address is registered.
        """
        user = await self.users.get_by_email(email)
        if user is not None and user.is_active:
            subject, hashed = user.id, user.hashed_password
        else:
            user, subject, hashed = None, 0, ""
        token = create_password_reset_token(subject, hashed_password=hashed)
        message = password_reset_email(email, token)
        if user is not None:
            self.users.mailer.send(message)
        return RESET_REQUESTED

    async def reset_password(self, token: str, new_password: str) -> MessageResponse:
        """Set a new password with a reset token; every session of the user ends."""
        claims = decode_token(token, TokenType.PASSWORD_RESET)
        # Hash before the first query, so no transaction is held through the hash.
        hashed = await hash_password_async(new_password)
        user = await self._reset_user(claims)
        current = user.hashed_password
        if not await self.users.store_password_hash(user, hashed, replacing=current):
            raise UnauthorizedError(RESET_TOKEN_SPENT)  # a concurrent reset won
        user.is_verified = True  # the token reached this mailbox: the address is theirs
        await self.session.flush()
        return MessageResponse(message="Your password has been reset; sign in with it.")

    async def _reset_user(self, claims: dict[str, Any]) -> User:
        """The user a reset token names, if their password is still the one it was issued for."""
        user = await self._token_user(claims)
        if not password_reset_token_matches(claims, user.hashed_password):
            raise UnauthorizedError(RESET_TOKEN_SPENT)
        return user

    async def _token_user(self, claims: dict[str, Any]) -> User:
        """The active user an e-mail token was issued to, or a 401."""
        try:
            user_id = int(claims["sub"])
        except ValueError as exc:
            raise UnauthorizedError("Invalid token") from exc
        user = await self.session.get(User, user_id, options=self.users.load_options)
        if user is None or not user.is_active:
            raise UnauthorizedError("Invalid token")
        return user

    async def _stored(self, refresh_token: str) -> RefreshToken:
        decode_refresh_token(refresh_token)  # signature, expiry and purpose first
        row = await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
        if row is None:
            raise UnauthorizedError("Invalid refresh token")
        return row


async def get_auth_service(session: SessionDep, mailer: MailerDep) -> AuthService:
    return AuthService(UserService(session, mailer))
