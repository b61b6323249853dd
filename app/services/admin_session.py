"""Admin console sessions: signed in with a password, kept server-side, ended at will.

The browser holds a random value in a cookie; the table keeps its SHA-256 only. A
session ends when it is signed out, `ADMIN_SESSION_IDLE_MINUTES` after its last
request, `ADMIN_SESSION_MAX_HOURS` after sign-in, or as soon as the user's
`token_version` moves (password change or reset, logout-all, disabling: the same
events that end API sessions), or the user stops being an active superuser.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import raiseload

from app.config import get_settings
from app.core.security import hash_token
from app.db.base import utcnow
from app.db.session import SessionDep
from app.exceptions import ForbiddenError, UnauthorizedError
from app.models.admin_session import AdminSession
from app.models.user import User
from app.services.user import UserService
from app.tasks.email import MailerDep

NOT_AN_ADMIN = "This account is not an administrator: the admin console is for superusers only."
SESSION_ENDED = "Your session has ended: sign in again."
# Activity is written at most this often, so browsing the console is not one write per page.
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_COOKIE_LENGTH = 64

_BY_HASH = (
    select(AdminSession, User)
    .join(User, User.id == AdminSession.user_id)
    .where(AdminSession.token_hash == bindparam("token_hash"))
    .options(raiseload(User.items))
)


class AdminSessionEnded(UnauthorizedError):
    """No live admin session came with the request: the console asks to sign in."""

    default_message = SESSION_ENDED


class AdminSessionService:
    def __init__(self, users: UserService) -> None:
        self.users = users
        self.session = users.session

    async def sign_in(self, email: str, password: str) -> str:
        """Check the credentials as API login does; returns the new session's cookie value."""
        user = await self.users.authenticate(email, password)
        if not user.is_superuser:
            raise ForbiddenError(NOT_AN_ADMIN)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        self.session.add(
            AdminSession(
                user_id=user.id,
                token_hash=hash_token(secret),
                token_version=user.token_version,
                last_seen_at=now,
                expires_at=now + timedelta(hours=get_settings().admin_session_max_hours),
            )
        )
        await self.session.flush()
        return secret

    async def resume(self, secret: str | None) -> tuple[AdminSession, User]:
        """The live session a cookie value names, and its user; records the activity."""
        if not secret or len(secret) > MAX_COOKIE_LENGTH:
            raise AdminSessionEnded("Sign in to use the admin console.")
        found = (await self.session.execute(_BY_HASH, {"token_hash": hash_token(secret)})).first()
        if found is None:
            raise AdminSessionEnded()
        row, user = found
        now = utcnow()
        idle = timedelta(minutes=get_settings().admin_session_idle_minutes)
        if (
            row.revoked_at is not None
            or now >= row.expires_at
            or now - row.last_seen_at >= idle
            or row.token_version != user.token_version
            or not (user.is_active and user.is_superuser)
        ):
            raise AdminSessionEnded()
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            await self.session.execute(
                update(AdminSession).where(AdminSession.id == row.id).values(last_seen_at=now)
            )
        return row, user

    async def sign_out(self, row: AdminSession) -> None:
        await self.session.execute(
            update(AdminSession).where(AdminSession.id == row.id).values(revoked_at=utcnow())
        )

    async def purge_expired(self) -> int:
        """Delete sessions past their absolute expiry or signed out; returns how many went."""
        result = await self.session.execute(
            delete(AdminSession).where(
                or_(AdminSession.expires_at <= utcnow(), AdminSession.revoked_at.is_not(None))
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def get_admin_session_service(session: SessionDep, mailer: MailerDep) -> AdminSessionService:
    return AdminSessionService(UserService(session, mailer))
