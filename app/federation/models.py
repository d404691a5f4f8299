"""The trust list: peer installations and their public keys, kept by system administrators."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, enum_column, utcnow
from app.core.encrypted_fields import EncryptedText, encrypted


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


class FederationOutbox(Base):
    """A package waiting to be delivered to a peer, or delivered. The package is kept
    encrypted with the field keys and sealed for the peer at each attempt (with that
    attempt's time, to the peer's current key): a long outage or a key rollover does not
    make it stale. Retried with back-off until the peer takes it; a package the peer refuses
    is kept, with the peer's refusal code, for the administrators: nothing is lost."""

    __tablename__ = "federation_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the package's id
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    package_sealed: Mapped[str] = mapped_column("package", EncryptedText)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a code, never content
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refused_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)  # the peer's signed delivery receipt
    package = encrypted("package_sealed", "package")  # RFC 8785 JSON

    peer: Mapped[FederationPeer] = relationship()

    __table_args__ = (
        CheckConstraint("delivered_at IS NULL OR refused_at IS NULL", name="delivered_or_refused"),
        CheckConstraint("(delivered_at IS NULL) = (receipt IS NULL)", name="delivered_with_receipt"),
        # The delivery job: what is due, oldest first.
        Index("ix_federation_outbox_due", "delivered_at", "refused_at", "next_attempt_at"),
    )


class FederationInbox(Base):
    """A package accepted from a peer, once per id (the replay check and idempotency): its
    body is kept encrypted with the field keys."""

    __tablename__ = "federation_inbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the package's id
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    body_sealed: Mapped[str] = mapped_column("body", EncryptedText)
    body = encrypted("body_sealed", "body")

    peer: Mapped[FederationPeer] = relationship()
