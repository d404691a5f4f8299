"""Member States, agencies, users and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.roles import AgencyKind, Role
from app.core.db import Base, TimestampMixin, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, register


class MemberState(Base):
    """A country the system knows: the 27 EU states and partner countries."""

    __tablename__ = "member_state"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    is_eu: Mapped[bool] = mapped_column(Boolean, default=False)
    focal_point_agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id", use_alter=True, name="fk_member_state_focal_point_agency_id_agency"), nullable=True
    )
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Retention of case data, in months; filled in by the privacy issue.
    retention_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Legal clocks (app.cases.deadlines): at least 30 days of recovery and reflection
    # (CoE Convention Art. 13), and the national decision deadline in working days.
    reflection_period_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    decision_working_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    holiday_subdivision: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # Referral response deadlines by urgency (app.referrals.deadlines).
    referral_emergency_hours: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    referral_urgent_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    referral_routine_working_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # Cross-border referrals (issue 5): how long this country's focal point has to approve an
    # outgoing referral or route an incoming one, by urgency.
    focal_point_emergency_hours: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    focal_point_urgent_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    focal_point_routine_working_days: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    # Audit entries are kept at least as long as the case data they describe.
    audit_retention_months: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    version: Mapped[int] = mapped_column(Integer, default=1)

    focal_point_agency: Mapped[Agency | None] = relationship(foreign_keys=[focal_point_agency_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("length(code) = 2 AND code = upper(code)", name="code_format"),
        CheckConstraint("retention_months IS NULL OR retention_months > 0", name="retention_positive"),
        CheckConstraint("reflection_period_days >= 30", name="reflection_at_least_30_days"),
        CheckConstraint("decision_working_days BETWEEN 1 AND 60", name="decision_deadline_range"),
        CheckConstraint("referral_emergency_hours BETWEEN 1 AND 72", name="referral_emergency_range"),
        CheckConstraint("referral_urgent_hours BETWEEN 1 AND 168", name="referral_urgent_range"),
        CheckConstraint("referral_routine_working_days BETWEEN 1 AND 60", name="referral_routine_range"),
        CheckConstraint("focal_point_emergency_hours BETWEEN 1 AND 72", name="focal_point_emergency_range"),
        CheckConstraint("focal_point_urgent_hours BETWEEN 1 AND 168", name="focal_point_urgent_range"),
        CheckConstraint("focal_point_routine_working_days BETWEEN 1 AND 60", name="focal_point_routine_range"),
        CheckConstraint(
            "audit_retention_months >= 12 AND (retention_months IS NULL OR audit_retention_months >= retention_months)",
            name="audit_retention_covers_cases",
        ),
    )


class Agency(TimestampMixin, Base):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"), index=True)
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind, "agency_kind"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    member_state: Mapped[MemberState] = relationship(foreign_keys=[member_state_code])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("member_state_code", "name", name="uq_agency_member_state_name"),)


class User(TimestampMixin, Base):
    """A staff member. Users are never deleted, only deactivated."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(120))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # TOTP secret, AES-GCM encrypted (app.core.crypto), bound to this row.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    # A new secret waiting for its first code; the confirmed one above keeps working meanwhile.
    totp_pending_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Last accepted TOTP time step: a code is usable once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    agency: Mapped[Agency] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("active OR deactivated_at IS NOT NULL", name="deactivation_dated"),
    )

    # The session this request was signed in with, attached by the session loader.
    @property
    def current_session(self) -> UserSession | None:
        value: UserSession | None = vars(self).get("_current_session")
        return value

    @current_session.setter
    def current_session(self, value: UserSession | None) -> None:
        vars(self)["_current_session"] = value

    # Flask-Login protocol

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None


register(User, "totp_secret")
register(User, "totp_pending_secret")


class UserSession(Base):
    """A server-side sign-in session; the cookie holds only a random token."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)

    user: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="end_reason_with_end"),)


class RecoveryCode(Base):
    """A one-time two-factor recovery code (79 random bits), stored salted and hashed (SHA-256)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ActivationToken(Base):
    """A one-time link to set a password: for a new account or after a reset by an admin."""

    __tablename__ = "activation_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
