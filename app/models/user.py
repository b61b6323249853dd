from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base

if TYPE_CHECKING:
    from app.models.item import Item


class User(Base):
    __tablename__ = "users"

    # Stored lower-cased, so the unique index makes e-mails unique case-insensitively.
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255), default=None)
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Bumped by logout-all and password changes: access tokens carry the version they
    # were issued under, and older versions are refused. An exact cut-off, unlike `iat`.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # selectin: `await session.refresh(user)` leaves `user.items` usable in async code.
    # Queries that must not load items (authentication) say so with raiseload().
    items: Mapped[list[Item]] = relationship(
        back_populates="owner",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="Item.id",
    )
