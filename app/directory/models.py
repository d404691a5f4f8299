"""Organisations and their services (Open Referral HSDS 3.x: organization, service,
service_area, language, phone, schedule, service_capacity), with live capacity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Agency, MemberState, User
from app.cases.models import ClientKeyed
from app.core.db import Base, TimestampMixin, enum_column
from app.directory.vocabulary import ServiceType


class Organization(ClientKeyed, TimestampMixin, Base):
    """An organisation that provides services. When it is an agency on this system, its
    caseworkers receive referrals and keep its services' capacity up to date."""

    __tablename__ = "organization"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # HSDS organization.id (UUID)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    website: Mapped[str | None] = mapped_column(String(300), nullable=True)
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    agency: Mapped[Agency | None] = relationship()
    member_state: Mapped[MemberState] = relationship()
    services: Mapped[list[Service]] = relationship(back_populates="organization", order_by="Service.name")

    __mapper_args__: Any = {"version_id_col": version}


class Service(ClientKeyed, TimestampMixin, Base):
    __tablename__ = "service"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # HSDS service.id (UUID)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[ServiceType] = mapped_column(enum_column(ServiceType, "service_type"))
    description: Mapped[str] = mapped_column(Text, default="")
    # Service area: a Member State and, optionally, a region within it (free text, e.g. "Île-de-France").
    member_state_code: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    region: Mapped[str] = mapped_column(String(120), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO 639-1
    target_groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # TargetGroup values
    eligibility: Mapped[str] = mapped_column(Text, default="")
    opening_hours: Mapped[str] = mapped_column(String(300), default="")
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)  # 24/7
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Live capacity (HSDS service_capacity): e.g. beds. NULL maximum: capacity not tracked.
    capacity_unit: Mapped[str] = mapped_column(String(40), default="")
    capacity_available: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capacity_maximum: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capacity_updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    capacity_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(back_populates="services")
    capacity_updated_by: Mapped[User | None] = relationship()

    __mapper_args__: Any = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "(capacity_maximum IS NULL AND capacity_available IS NULL)"
            " OR (capacity_maximum >= 0 AND capacity_available >= 0 AND capacity_available <= capacity_maximum)",
            name="capacity_range",
        ),
        # Search: active services of a country by type.
        Index("ix_service_state_type", "member_state_code", "service_type", "active"),
    )

    @property
    def has_free_capacity(self) -> bool | None:
        """None when capacity is not tracked."""
        if self.capacity_maximum is None or self.capacity_available is None:
            return None
        return self.capacity_available > 0
