"""Consent records: who gave it, when, in which language, for what, and its withdrawal."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.cases.models import ClientKeyed
from app.core.db import Base, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, encrypted


class GivenBy(enum.StrEnum):
    PERSON = "person"
    GUARDIAN = "guardian"


class Consent(ClientKeyed, Base):
    __tablename__ = "consent"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    given_by: Mapped[GivenBy] = mapped_column(enum_column(GivenBy, "consent_given_by"))
    given_on: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(3))  # ISO 639-1
    # Scope: each purpose is consented to separately.
    assistance_referral: Mapped[bool] = mapped_column(Boolean, default=False)
    data_sharing: Mapped[bool] = mapped_column(Boolean, default=False)
    cross_border: Mapped[bool] = mapped_column(Boolean, default=False)
    explained_sealed: Mapped[str | None] = mapped_column("explained", EncryptedText, nullable=True)
    recipients_sealed: Mapped[str | None] = mapped_column("recipients", EncryptedText, nullable=True)
    explained = encrypted("explained_sealed", "explained")  # what was explained, in the officer's words
    recipients = encrypted("recipients_sealed", "recipients")  # named recipients for data sharing
    # Organisations of the directory named as recipients: what a referral checks.
    organization_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)

    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (
        CheckConstraint("assistance_referral OR data_sharing OR cross_border", name="has_a_scope"),
        CheckConstraint("withdrawn_on IS NULL OR withdrawn_on >= given_on", name="withdrawn_after_given"),
        CheckConstraint("(withdrawn_on IS NULL) = (withdrawn_recorded_by_id IS NULL)", name="withdrawal_recorded"),
    )

    @property
    def active(self) -> bool:
        return self.withdrawn_on is None
