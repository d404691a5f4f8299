"""Referrals and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Agency, User
from app.cases.models import Case, ClientKeyed
from app.core.db import Base, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, encrypted
from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType
from app.referrals.vocabulary import DeclineReason, IdentityDecision, LegalBasis, Outcome, ReferralStatus, Urgency

OPEN_STATUS_SQL = (
    "status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress', "
    "'focal_point_review', 'returned', 'focal_point_routing')"
)
CROSS_BORDER_STAGES_SQL = "('focal_point_review', 'returned', 'focal_point_routing')"
STAGE_TIMES_SQL = (
    "(status <> 'focal_point_routing' OR approved_at IS NOT NULL) "
    "AND (status NOT IN ('focal_point_review', 'returned') OR (approved_at IS NULL AND routed_at IS NULL)) "
    "AND (origin_state_code IS NULL "
    "OR status NOT IN ('sent', 'acknowledged', 'reopened', 'accepted', 'in_progress', 'completed') "
    "OR routed_at IS NOT NULL)"
)

# A referral is whole here, or one side of it is a peer installation: the sending side's
# copy (the peer routes it) has no service until routed there, the receiving side's copy
# has no case and no sender here, only the shared snapshot.
PEER_COPY_SQL = (
    "(peer_id IS NULL) = (peer_side IS NULL) "
    "AND (peer_side IS NULL OR origin_state_code IS NOT NULL) "
    "AND (service_id IS NULL) = (recipient_agency_id IS NULL) "
    "AND (service_id IS NULL) = (recipient_organization_id IS NULL) "
    "AND (sender_agency_id IS NULL) = (sender_user_id IS NULL) "
    "AND (peer_side IS NOT NULL OR (case_id IS NOT NULL AND service_id IS NOT NULL AND sender_user_id IS NOT NULL)) "
    "AND (peer_side <> 'receiving' OR (case_id IS NOT NULL AND sender_user_id IS NOT NULL "
    "AND service_id IS NULL AND service_type IS NOT NULL)) "
    "AND (peer_side <> 'sending' OR (case_id IS NULL AND sender_user_id IS NULL "
    "AND shared_snapshot IS NOT NULL AND service_type IS NOT NULL))"
)


class Referral(ClientKeyed, Base):
    """A case referred to a service. Free texts are encrypted: they may describe the person."""

    __tablename__ = "referral"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Between installations (issue 5) one side is a peer: the sending side's copy has no
    # service (the peer routes it), the receiving side's copy no case and no sender here.
    case_id: Mapped[str | None] = mapped_column(ForeignKey("case_file.id"), index=True, nullable=True)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("service.id"), nullable=True)
    recipient_organization_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"), nullable=True)
    recipient_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), nullable=True)
    sender_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), nullable=True)
    sender_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    status: Mapped[ReferralStatus] = mapped_column(
        enum_column(ReferralStatus, "referral_status"), default=ReferralStatus.DRAFT
    )
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "referral_urgency"))
    shared_parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[LegalBasis] = mapped_column(enum_column(LegalBasis, "referral_legal_basis"))
    consent_id: Mapped[str | None] = mapped_column(ForeignKey("consent.id"), nullable=True)
    purpose_sealed: Mapped[str] = mapped_column("purpose", EncryptedText)
    justification_sealed: Mapped[str | None] = mapped_column("justification", EncryptedText, nullable=True)
    decline_reason: Mapped[DeclineReason | None] = mapped_column(
        enum_column(DeclineReason, "referral_decline_reason"), nullable=True
    )
    decline_note_sealed: Mapped[str | None] = mapped_column("decline_note", EncryptedText, nullable=True)
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, "referral_outcome"), nullable=True)
    services_delivered_sealed: Mapped[str | None] = mapped_column("services_delivered", EncryptedText, nullable=True)
    # The language each free text was written in (the writer's), so a reader in another
    # language sees that it is foreign to them, and screen readers pronounce it right.
    purpose_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    decline_note_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    services_delivered_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # Cross-border (issue 5): the sender's country when it is not the service's
    # (``member_state_code``); the route then runs through both focal points.
    origin_state_code: Mapped[str | None] = mapped_column(ForeignKey("member_state.code"), nullable=True)
    # Pseudonymised: the receiving side sees a reference instead of the name, and of the
    # person only year of birth, sex and citizenship, until the sender releases identity.
    pseudonymised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # to the sending focal point
    approved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # by the sending focal point
    routed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # by the receiving focal point
    return_note_sealed: Mapped[str | None] = mapped_column("return_note", EncryptedText, nullable=True)
    return_note_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    identity_requested_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    identity_request_sealed: Mapped[str | None] = mapped_column("identity_request", EncryptedText, nullable=True)
    identity_request_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    identity_decision: Mapped[IdentityDecision | None] = mapped_column(
        enum_column(IdentityDecision, "referral_identity_decision"), nullable=True
    )
    identity_decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The peer installation that holds the other side's copy, and which side it is
    # ("receiving": it routes the referral, we sent it; "sending": it sent it to us).
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("federation_peer.id"), nullable=True, index=True)
    peer_side: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # The kind of service asked for, when the peer chooses the service.
    service_type: Mapped[ServiceType | None] = mapped_column(
        enum_column(ServiceType, "referral_service_type"), nullable=True
    )
    # Not personal: the case's reference and the sender agency's name (the receiving side's
    # copy), the service's name once routed (the sending side's copy).
    remote_reference: Mapped[str | None] = mapped_column(String(40), nullable=True)
    remote_sender: Mapped[str | None] = mapped_column(String(200), nullable=True)
    remote_service: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The receiving side's copy of what was shared (JSON), the only person data it holds.
    shared_snapshot_sealed: Mapped[str | None] = mapped_column("shared_snapshot", EncryptedText, nullable=True)
    shared_snapshot = encrypted("shared_snapshot_sealed", "shared_snapshot")
    purpose = encrypted("purpose_sealed", "purpose")
    return_note = encrypted("return_note_sealed", "return_note")  # the sending focal point's comment
    identity_request = encrypted("identity_request_sealed", "identity_request")  # why identity is needed
    justification = encrypted("justification_sealed", "justification")  # of a vital-interest exception
    decline_note = encrypted("decline_note_sealed", "decline_note")
    services_delivered = encrypted("services_delivered_sealed", "services_delivered")

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # response deadline
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # deadline approaching
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case | None] = relationship()
    service: Mapped[Service | None] = relationship()
    recipient_organization: Mapped[Organization | None] = relationship()
    sender_agency: Mapped[Agency | None] = relationship(foreign_keys=[sender_agency_id])
    sender_user: Mapped[User | None] = relationship(foreign_keys=[sender_user_id])

    @property
    def cross_border(self) -> bool:
        return self.origin_state_code is not None

    @property
    def reference(self) -> str:
        """The case's reference, on either side."""
        return self.case.reference if self.case is not None else (self.remote_reference or "")

    @property
    def service_label(self) -> str:
        """The service and its organisation, or what the sending side knows of it."""
        if self.service is not None:
            return f"{self.service.name} \u2013 {self.service.organization.name}"
        return self.remote_service or ""

    @property
    def sender_label(self) -> str:
        return self.sender_agency.name if self.sender_agency is not None else (self.remote_sender or "")

    __mapper_args__: Any = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "case_id IS NULL OR (legal_basis = 'consent') = (consent_id IS NOT NULL)", name="consent_basis"
        ),
        CheckConstraint(PEER_COPY_SQL, name="peer_copy"),
        CheckConstraint("legal_basis <> 'vital_interest' OR justification IS NOT NULL", name="exception_justified"),
        CheckConstraint("(status = 'declined') = (decline_reason IS NOT NULL)", name="declined_with_reason"),
        CheckConstraint("status <> 'completed' OR outcome IS NOT NULL", name="completed_with_outcome"),
        CheckConstraint(
            "(sent_at IS NULL) = (due_at IS NULL) "
            "AND (status IN ('draft', 'withdrawn', 'returned') OR sent_at IS NOT NULL)",
            name="sent_with_deadline",
        ),
        CheckConstraint(
            f"origin_state_code IS NOT NULL OR (NOT pseudonymised AND status NOT IN {CROSS_BORDER_STAGES_SQL})",
            name="cross_border_only",
        ),
        CheckConstraint("origin_state_code IS NULL OR origin_state_code <> member_state_code", name="origin_abroad"),
        # Who may see a cross-border referral depends on these times: the stages keep them true.
        CheckConstraint(STAGE_TIMES_SQL, name="stage_times"),
        CheckConstraint("status <> 'returned' OR return_note IS NOT NULL", name="returned_with_note"),
        CheckConstraint("(identity_decision IS NULL) = (identity_decided_at IS NULL)", name="identity_decided"),
        # One open referral per case and service.
        Index(
            "uq_referral_open_case_service",
            "case_id",
            "service_id",
            unique=True,
            sqlite_where=text(OPEN_STATUS_SQL),
            postgresql_where=text(OPEN_STATUS_SQL),
        ),
        # The recipient's inbox and the sender's list, newest first.
        Index("ix_referral_recipient_status_due", "recipient_agency_id", "status", "due_at"),
        # "Recently ended" in the inbox stays one short range read however many have ended.
        Index("ix_referral_recipient_ended", "recipient_agency_id", "ended_at"),
        Index("ix_referral_sender_created", "sender_agency_id", "created_at"),
        # The deadline job.
        Index("ix_referral_status_due", "status", "due_at"),
        # The focal-point desk: a country's incoming and outgoing cross-border referrals.
        Index("ix_referral_state_origin_status", "member_state_code", "origin_state_code", "status"),
        Index("ix_referral_origin_status", "origin_state_code", "status"),
    )


class ReferralEvent(Base):
    """A referral's history: each transition, who made it and from which side. Codes only."""

    __tablename__ = "referral_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    side: Mapped[str] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()
