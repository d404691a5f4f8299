"""The trust list: peer installations and their public keys, kept by system administrators."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, enum_column, utcnow


class KeyUse(enum.StrEnum):
    SIGNING = "sig"  # Ed25519: the peer signs its packages and receipts with it
    ENCRYPTION = "enc"  # X25519: we encrypt packages to the peer with it


class FederationPeer(Base):
    """Another national installation this one exchanges packages with."""

    __tablename__ = "federation_peer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_url: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(ForeignKey("member_state.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    keys: Mapped[list[FederationKey]] = relationship(back_populates="peer", order_by="FederationKey.id")


class FederationKey(Base):
    """A peer's public key (a JWK), named by its RFC 7638 thumbprint. Several may be valid
    at once (rollover); a revoked key is kept, so that what it signed stays explained."""

    __tablename__ = "federation_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    use: Mapped[KeyUse] = mapped_column(enum_column(KeyUse, "federation_key_use"))
    public_jwk: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    peer: Mapped[FederationPeer] = relationship(back_populates="keys")
