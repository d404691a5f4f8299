"""Persons (identifying fields encrypted), cases and their timeline."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Agency, MemberState, User
from app.cases.vocabulary import AgeEstimation, CaseStatus, DocumentType, Gender
from app.core.db import Base, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, encrypted


def new_id() -> str:
    return str(uuid4())


class ClientKeyed:
    """Rows whose primary key is made before insert, so encrypted fields can bind to it."""

    id: Mapped[str]

    def __init__(self, **kwargs: Any) -> None:
        self.id = kwargs.pop("id", None) or new_id()
        super().__init__(**kwargs)


class Person(ClientKeyed, Base):
    """A person met by a frontline professional. Identifying fields are AES-GCM encrypted
    (see docs/DATA.md); exact-match lookups use HMAC blind indexes."""

    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    given_names_sealed: Mapped[str | None] = mapped_column("given_names", EncryptedText, nullable=True)
    family_name_sealed: Mapped[str | None] = mapped_column("family_name", EncryptedText, nullable=True)
    aliases_sealed: Mapped[str | None] = mapped_column("aliases", EncryptedText, nullable=True)
    date_of_birth_sealed: Mapped[str | None] = mapped_column("date_of_birth", EncryptedText, nullable=True)
    document_number_sealed: Mapped[str | None] = mapped_column("document_number", EncryptedText, nullable=True)
    contact_details_sealed: Mapped[str | None] = mapped_column("contact_details", EncryptedText, nullable=True)

    given_names = encrypted("given_names_sealed", "given_names")
    family_name = encrypted("family_name_sealed", "family_name")
    aliases = encrypted("aliases_sealed", "aliases")
    date_of_birth = encrypted("date_of_birth_sealed", "date_of_birth")  # ISO 8601 date
    document_number = encrypted("document_number_sealed", "document_number")
    contact_details = encrypted("contact_details_sealed", "contact_details")

    # Not identifying on their own, and needed for child rules and statistics.
    estimated_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    age_estimation: Mapped[AgeEstimation | None] = mapped_column(
        enum_column(AgeEstimation, "age_estimation"), nullable=True
    )
    may_be_child: Mapped[bool] = mapped_column(Boolean, default=False)
    gender: Mapped[Gender | None] = mapped_column(enum_column(Gender, "gender"), nullable=True)
    citizenships: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    document_type: Mapped[DocumentType] = mapped_column(
        enum_column(DocumentType, "document_type"), default=DocumentType.NONE
    )

    # HMAC-SHA256 blind indexes (BLIND_INDEX_KEY) for possible-duplicate checks.
    name_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    document_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)

    __table_args__ = (
        CheckConstraint(
            "estimated_age IS NULL OR (estimated_age >= 0 AND estimated_age < 120)", name="estimated_age_range"
        ),
        CheckConstraint(
            "NOT anonymous OR (given_names IS NULL AND family_name IS NULL AND aliases IS NULL"
            " AND date_of_birth IS NULL AND document_number IS NULL AND contact_details IS NULL"
            " AND name_index IS NULL AND document_index IS NULL)",
            name="anonymous_has_no_identity",
        ),
    )


def new_reference(member_state_code: str, year: int) -> str:
    """A case reference that says nothing about the person: country, year, random part."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return f"{member_state_code}-{year}-" + "".join(secrets.choice(alphabet) for _ in range(6))


class Case(ClientKeyed, Base):
    __tablename__ = "case_file"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"), index=True)
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, "case_status"), default=CaseStatus.OPEN)
    closed_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    presumed_child: Mapped[bool] = mapped_column(Boolean, default=False)
    level: Mapped[int] = mapped_column(Integer, default=0)  # highest assessment Level so far
    # The day reasonable grounds were first indicated: the legal clocks run from it.
    reasonable_grounds_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship()
    owner_agency: Mapped[Agency] = relationship()
    member_state: Mapped[MemberState] = relationship()
    assigned_user: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("(status = 'closed') = (closed_reason IS NOT NULL)", name="closed_with_reason"),
        CheckConstraint("level BETWEEN 0 AND 2", name="level_range"),
        # "My cases" for an agency and for a country's focal point, in list order.
        Index("ix_case_file_agency_level_opened", "owner_agency_id", "level", "opened_at"),
        Index("ix_case_file_state_level_opened", "member_state_code", "level", "opened_at"),
    )


class CaseEvent(Base):
    """The case timeline. Details hold codes and ids only, never personal data."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class DuplicateStatus(enum.StrEnum):
    OPEN = "open"
    LINKED = "linked"
    DISMISSED = "dismissed"


class PossibleDuplicate(Base):
    """Two cases whose persons match on a blind index, for the focal point to decide."""

    __tablename__ = "possible_duplicate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    other_case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"))
    matched_on: Mapped[str] = mapped_column(String(20))  # "name" or "document": never the value
    status: Mapped[DuplicateStatus] = mapped_column(
        enum_column(DuplicateStatus, "duplicate_status"), default=DuplicateStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    case: Mapped[Case] = relationship(foreign_keys=[case_id])
    other_case: Mapped[Case] = relationship(foreign_keys=[other_case_id])

    __table_args__ = (
        CheckConstraint("case_id <> other_case_id", name="two_cases"),
        CheckConstraint("(status = 'open') = (decided_at IS NULL)", name="decided_when_closed"),
    )


class NoteVisibility(enum.StrEnum):
    AGENCY = "agency"  # the owner agency (and the focal point) only
    SHAREABLE = "shareable"  # may be shared with referral recipients


class CaseNote(ClientKeyed, Base):
    __tablename__ = "case_note"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    visibility: Mapped[NoteVisibility] = mapped_column(enum_column(NoteVisibility, "note_visibility"))
    text_sealed: Mapped[str] = mapped_column("text", EncryptedText)
    text = encrypted("text_sealed", "text")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)  # the author's, for readers

    author: Mapped[User] = relationship()


class CaseTask(ClientKeyed, Base):
    __tablename__ = "case_task"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    title_sealed: Mapped[str] = mapped_column("title", EncryptedText)
    title = encrypted("title_sealed", "title")
