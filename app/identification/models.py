"""Indicator catalogue versions loaded by national focal points."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.db import Base, utcnow


class CatalogueVersion(Base):
    """A validated catalogue file as loaded; never edited, only superseded.

    Records keep the key (``id@version``) of the catalogue they were made with, so the
    text of every version ever used stays here.
    """

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    catalogue_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(40))
    source_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    loaded_by: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("member_state_code", "catalogue_id", "version", name="uq_catalogue_version_key"),
        # At most one active version per Member State.
        Index(
            "uq_catalogue_version_one_active",
            "member_state_code",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
