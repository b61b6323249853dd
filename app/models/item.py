from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base

if TYPE_CHECKING:
    from app.models.user import User


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # Every filter and sort of GET /items, each with `id` to break ties.
        Index("ix_items_owner_id_created_at_id", "owner_id", "created_at", "id"),
        Index("ix_items_owner_id_price_id", "owner_id", "price", "id"),
        Index("ix_items_owner_id_title_id", "owner_id", "title", "id"),
        Index("ix_items_created_at_id", "created_at", "id"),
        Index("ix_items_price_id", "price", "id"),
        Index("ix_items_title_id", "title", "id"),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    owner: Mapped[User] = relationship(back_populates="items", lazy="raise_on_sql")
