"""Audit entries, the chain head that serialises writers, and signed checkpoints."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.cases.models import Case, ClientKeyed
from app.core.db import Base, enum_column
from app.core.encrypted_fields import EncryptedText, encrypted

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One event. Rows are only ever inserted; on PostgreSQL a trigger rejects UPDATE and
    DELETE, and the application's role is granted neither (docs/DEPLOYMENT.md).

    ``payload`` holds the exact bytes the hash covers: the RFC 8785 canonical JSON of the
    entry. The other columns repeat what the payload says so that filters can use
    indexes; verification checks that they agree with it.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_case_seq", "case_id", "seq"),
        Index("ix_audit_entry_actor_seq", "actor_id", "seq"),
        Index("ix_audit_entry_state_seq", "member_state_code", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_agency_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member_state_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = json.loads(self.payload).get("details") or {}
        return details


class AuditChainHead(Base):
    """A single row holding the last sequence number and hash, and where the kept chain
    starts (after pruning, the first kept entry follows a signed checkpoint).

    Writers lock it (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the write transaction
    is taken up front with BEGIN IMMEDIATE), so entries get gap-free sequence numbers in
    commit order.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    first_seq: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    first_prev_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH, server_default=GENESIS_HASH)


class AuditCheckpoint(Base):
    """A signed statement "the chain's entry ``seq`` has hash ``entry_hash``": a compact JWS
    (EdDSA, Ed25519) that outside parties can keep and check later with the public key."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    purpose: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)


class BreakGlassReview(enum.StrEnum):
    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"


class BreakGlassAccess(ClientKeyed, Base):
    """Emergency access by a user who may not otherwise see a case: granted at once for a
    limited time on a written justification, then reviewed by a supervisor."""

    __tablename__ = "break_glass_access"
    __table_args__ = (
        Index("ix_break_glass_user_case_expires", "user_id", "case_id", "expires_at"),
        Index("ix_break_glass_state_reviewed", "member_state_code", "reviewed_at"),
        CheckConstraint("expires_at > granted_at", name="expiry_after_grant"),
        CheckConstraint(
            "(reviewed_at IS NULL AND reviewer_id IS NULL AND review_outcome IS NULL)"
            " OR (reviewed_at IS NOT NULL AND reviewer_id IS NOT NULL AND review_outcome IS NOT NULL)",
            name="review_complete",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case_file.id"), index=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    justification_sealed: Mapped[str] = mapped_column("justification", EncryptedText)
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    review_outcome: Mapped[BreakGlassReview | None] = mapped_column(
        enum_column(BreakGlassReview, "break_glass_review"), nullable=True
    )
    review_note_sealed: Mapped[str | None] = mapped_column("review_note", EncryptedText, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__: Any = {"version_id_col": version}

    justification = encrypted("justification_sealed", "justification")
    review_note = encrypted("review_note_sealed", "review_note")

    case: Mapped[Case] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
