"""Indicator catalogue versions, and identification records."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.cases.models import ClientKeyed
from app.cases.vocabulary import EncounterContext
from app.core.db import Base, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, encrypted


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


class RecordStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class IdentificationRecord(ClientKeyed, Base):
    """What a frontline professional recorded about one encounter.

    A draft keeps whatever was typed (encrypted), even when it does not validate yet, so
    nothing is lost to a failed check or a sign-out. Submission validates, stores the
    content, links the person and the case, and locks the record.
    """

    __tablename__ = "identification"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[RecordStatus] = mapped_column(enum_column(RecordStatus, "record_status"), default=RecordStatus.DRAFT)
    officer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    catalogue_key: Mapped[str] = mapped_column(String(110))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), nullable=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("case_file.id"), nullable=True, index=True)

    draft_sealed: Mapped[str | None] = mapped_column("draft", EncryptedText, nullable=True)
    content_sealed: Mapped[str | None] = mapped_column("content", EncryptedText, nullable=True)
    draft = encrypted("draft_sealed", "draft")  # JSON of the form as typed
    content = encrypted("content_sealed", "content")  # JSON of the validated record

    # Plain columns for lists, policies and statistics; nothing identifying.
    encounter_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    encounter_country: Mapped[str | None] = mapped_column(ForeignKey("member_state.code"), nullable=True)
    context: Mapped[EncounterContext | None] = mapped_column(
        enum_column(EncounterContext, "encounter_context"), nullable=True
    )
    forms: Mapped[list[str]] = mapped_column(JSON, default=list)
    presumed_child: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    officer: Mapped[User] = relationship(foreign_keys=[officer_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "status = 'draft' OR (submitted_at IS NOT NULL AND case_id IS NOT NULL AND person_id IS NOT NULL"
            " AND content IS NOT NULL AND level IS NOT NULL AND presumed_child IS NOT NULL)",
            name="submitted_is_complete",
        ),
    )


class IdentificationAmendment(ClientKeyed, Base):
    """A correction of a submitted record, with its reason; the original stays as it was."""

    __tablename__ = "identification_amendment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    identification_id: Mapped[str] = mapped_column(ForeignKey("identification.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason_sealed: Mapped[str] = mapped_column("reason", EncryptedText)
    changes_sealed: Mapped[str] = mapped_column("changes", EncryptedText)
    reason = encrypted("reason_sealed", "reason")
    changes = encrypted("changes_sealed", "changes")  # JSON: field -> new value

    author: Mapped[User] = relationship()
