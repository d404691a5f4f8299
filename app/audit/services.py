"""Writing and verifying the audit trail.

``record()`` adds an entry in the caller's transaction, so an entry exists exactly when
what it describes was committed. Details must never hold passwords, secrets or a
victim's personal data; callers pass ids and codes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

import rfc8785
from sqlalchemy import select

from app.audit.models import AuditChainHead, AuditEntry
from app.core.db import utcnow
from app.core.request_context import current_origin
from app.extensions import db

if TYPE_CHECKING:
    from app.accounts.models import User

GENESIS_HASH = "0" * 64
_FORBIDDEN_DETAIL_KEYS = frozenset({"password", "secret", "token", "code", "totp", "recovery_code"})


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(entry: AuditEntry) -> bytes:
    """RFC 8785 canonical JSON of the fields the hash covers."""
    return rfc8785.dumps(
        {
            "seq": entry.seq,
            "occurred_at": _timestamp(entry.occurred_at),
            "actor_id": entry.actor_id,
            "actor_agency_id": entry.actor_agency_id,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "request_id": entry.request_id,
            "client_address": entry.client_address,
            "details": entry.details or {},
        }
    )


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return sha256(prev_hash.encode("ascii") + canonical_entry(entry)).hexdigest()


def _lock_head() -> AuditChainHead:
    head = db.session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
    return head


def record(
    action: str,
    *,
    actor: User | None,
    object_type: str | None = None,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry to the chain in the current transaction (flushes, never commits)."""
    details = dict(details or {})
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry {sorted(leaked)}")
    origin = current_origin()
    head = _lock_head()
    entry = AuditEntry(
        seq=head.last_seq + 1,
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_agency_id=actor.agency_id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        request_id=origin.request_id,
        client_address=origin.client_address,
        details=details,
        prev_hash=head.last_hash,
    )
    entry.entry_hash = entry_hash(head.last_hash, entry)
    head.last_seq = entry.seq
    head.last_hash = entry.entry_hash
    db.session.add(entry)
    db.session.flush()
    return entry


def record_throttled(*, endpoint: str | None) -> None:
    record("auth.throttled", actor=None, details={"endpoint": endpoint or ""})


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(batch_size: int = 5000) -> VerificationResult:
    """Walk the chain in order and report the first entry that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        rows = (
            db.session.execute(
                select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return VerificationResult(False, checked, expected_seq, "missing entry")
            if entry.prev_hash != expected_prev:
                return VerificationResult(False, checked, entry.seq, "previous hash does not match")
            if entry_hash(entry.prev_hash, entry) != entry.entry_hash:
                return VerificationResult(False, checked, entry.seq, "entry content does not match its hash")
            expected_prev = entry.entry_hash
            expected_seq += 1
            checked += 1
            last_seq = entry.seq
        db.session.expunge_all()
    head = db.session.get(AuditChainHead, 1)
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return VerificationResult(False, checked, checked + 1, "entries after the last one are missing")
    return VerificationResult(True, checked)
