"""Writing, verifying, checkpointing and pruning the audit trail.

``record()`` adds an entry in the caller's transaction, so an entry exists exactly when
what it describes was committed. Details must never hold passwords, secrets or a
victim's personal data; callers pass ids, codes and masked changes only
(``field_changes``).

Each entry's ``payload`` is the RFC 8785 canonical JSON of its fields, and
``entry_hash = SHA-256(prev_hash || payload)``. Signed checkpoints (``app.audit.signing``)
pin the chain head from time to time, so that a history rewritten from some point on,
hashes and all, no longer matches a checkpoint held outside.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

import rfc8785
from sqlalchemy import case as sql_case
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.audit.models import GENESIS_HASH, AuditChainHead, AuditCheckpoint, AuditEntry
from app.audit.signing import BadCheckpoint, CheckpointClaim, read_checkpoint, sign_checkpoint
from app.core.db import utcnow
from app.core.request_context import current_origin
from app.extensions import db

if TYPE_CHECKING:
    from app.accounts.models import User

__all__ = ["GENESIS_HASH", "field_changes", "issue_checkpoint", "prune", "record", "verify_chain"]

_FORBIDDEN_DETAIL_KEYS = frozenset({"password", "secret", "token", "code", "totp", "recovery_code"})
MASKED = "***"


def _timestamp(moment: datetime) -> str:
    """``2026-11-29T10:00:00.000000Z`` (isoformat: the same text as strftime, faster)."""
    return moment.isoformat(timespec="microseconds") + "Z"


def canonical_payload(entry: AuditEntry, details: Mapping[str, Any]) -> str:
    """RFC 8785 canonical JSON of everything the hash covers.

    ``case_id`` and ``member_state`` appear only when set, so entries written before they
    existed keep their payload and hash.
    """
    fields: dict[str, Any] = {
        "seq": entry.seq,
        "occurred_at": _timestamp(entry.occurred_at),
        "actor_id": entry.actor_id,
        "actor_agency_id": entry.actor_agency_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "request_id": entry.request_id,
        "client_address": entry.client_address,
        "details": dict(details),
    }
    if entry.case_id is not None:
        fields["case_id"] = entry.case_id
    if entry.member_state_code is not None:
        fields["member_state"] = entry.member_state_code
    return rfc8785.dumps(fields).decode("utf-8")


def chain_hash(prev_hash: str, payload: str) -> str:
    return sha256(prev_hash.encode("ascii") + payload.encode("utf-8")).hexdigest()


def _lock_head() -> AuditChainHead:
    """Lock the chain-head row, creating it for the very first entry (the migration makes
    it; a concurrent first writer that loses the insert race locks the winner's row)."""
    # populate_existing: the values read under the lock win over any copy already loaded.
    query = (
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update().execution_options(populate_existing=True)
    )
    head = db.session.execute(query).scalar_one_or_none()
    if head is not None:
        return head
    try:
        with db.session.begin_nested():
            db.session.add(
                AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH, first_seq=1, first_prev_hash=GENESIS_HASH)
            )
    except IntegrityError:
        pass
    return db.session.execute(query).scalar_one()


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, personal: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Field-level before/after for the trail; personal-data values are masked.

    Only fields whose value changed appear. Values are kept as JSON scalars (str, int,
    bool, None); others become their string form.
    """
    masked = set(personal)
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name in masked:
            changes[name] = {
                "from": MASKED if old not in (None, "") else None,
                "to": MASKED if new not in (None, "") else None,
            }
        else:
            changes[name] = {"from": _scalar(old), "to": _scalar(new)}
    return changes


def _masked(value: Any) -> str | None:
    return None if value in (None, "") else MASKED


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_scalar(item) for item in value]
    return str(getattr(value, "value", value))


def record(
    action: str,
    *,
    actor: User | None,
    object_type: str | None = None,
    object_id: object | None = None,
    case_id: str | None = None,
    member_state_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry to the chain in the current transaction (flushes, never commits).

    ``case_id`` ties the entry to a case's trail (taken from ``object_id`` when the object
    is the case, or from ``details["case"]``); ``member_state_code`` decides which country's supervisors see it
    (default: the actor's agency's country).
    """
    details = dict(details or {})
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry {sorted(leaked)}")
    if case_id is None and object_type == "case" and object_id is not None:
        case_id = str(object_id)
    if case_id is None and isinstance(details.get("case"), str):
        case_id = details["case"]
    if member_state_code is None and actor is not None and actor.agency_id is not None:
        member_state_code = actor.agency.member_state_code
    origin = current_origin()
    head = _lock_head()
    entry = AuditEntry(
        seq=head.last_seq + 1,
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_agency_id=actor.agency_id if actor is not None else None,
        member_state_code=member_state_code,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        case_id=case_id,
        request_id=origin.request_id,
        client_address=origin.client_address,
        prev_hash=head.last_hash,
    )
    entry.payload = canonical_payload(entry, details)
    entry.entry_hash = chain_hash(head.last_hash, entry.payload)
    head.last_seq = entry.seq
    head.last_hash = entry.entry_hash
    db.session.add(entry)
    db.session.flush()
    return entry


def record_throttled(*, endpoint: str | None) -> None:
    record("auth.throttled", actor=None, details={"endpoint": endpoint or ""})


# -- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    checkpoints: int = 0  # signed checkpoints matched by entries of the kept chain
    unverifiable_checkpoints: int = 0  # outside ones older than the kept chain (pruned)


_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
    AuditEntry.payload,
    AuditEntry.occurred_at,
    AuditEntry.actor_id,
    AuditEntry.actor_agency_id,
    AuditEntry.member_state_code,
    AuditEntry.action,
    AuditEntry.object_type,
    AuditEntry.object_id,
    AuditEntry.case_id,
    AuditEntry.request_id,
    AuditEntry.client_address,
)


def _columns_match(row: Any, payload_text: str) -> bool:
    """The indexed columns say what the hashed payload says (False for a payload that is
    not an audit entry at all)."""
    try:
        payload = json.loads(payload_text)
        return bool(
            payload["seq"] == row[0]
            and payload["action"] == row[8]
            and payload["actor_id"] == row[5]
            and payload["actor_agency_id"] == row[6]
            and payload.get("member_state") == row[7]
            and payload["object_type"] == row[9]
            and payload["object_id"] == row[10]
            and payload.get("case_id") == row[11]
            and payload["request_id"] == row[12]
            and payload["client_address"] == row[13]
            and payload["occurred_at"] == _timestamp(row[4])
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


def _stored_checkpoints(from_seq: int) -> tuple[dict[int, list[CheckpointClaim]], int | None]:
    """Signed checkpoints kept in the database from entry ``from_seq`` on, by sequence
    number; and the sequence number of the first one whose signature does not hold (None
    if all hold)."""
    claims: dict[int, list[CheckpointClaim]] = {}
    query = select(AuditCheckpoint).where(AuditCheckpoint.seq >= from_seq).order_by(AuditCheckpoint.id)
    for checkpoint in db.session.execute(query).scalars():
        try:
            claim = read_checkpoint(checkpoint.token)
        except BadCheckpoint:
            return claims, checkpoint.seq
        if claim.seq != checkpoint.seq or claim.entry_hash != checkpoint.entry_hash:
            return claims, checkpoint.seq
        claims.setdefault(claim.seq, []).append(claim)
    return claims, None


# On PostgreSQL the database compares the columns with the payload (parsed once per row by
# jsonb_to_record, in C) and Python only hashes: verification then runs at more than half
# the rate of hashing alone (docs/PERFORMANCE.md). Missing optional keys read as NULL, like
# the columns; a payload PostgreSQL cannot read makes the query fail (see verify_chain).
_PG_ROWS = """
SELECT e.seq, e.prev_hash, e.entry_hash, e.payload, COALESCE(
       p.seq = e.seq
   AND p.action = e.action
   AND p.occurred_at = to_char(e.occurred_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
   AND p.actor_id IS NOT DISTINCT FROM e.actor_id
   AND p.actor_agency_id IS NOT DISTINCT FROM e.actor_agency_id
   AND p.member_state IS NOT DISTINCT FROM e.member_state_code
   AND p.object_type IS NOT DISTINCT FROM e.object_type
   AND p.object_id IS NOT DISTINCT FROM e.object_id
   AND p.case_id IS NOT DISTINCT FROM e.case_id
   AND p.request_id IS NOT DISTINCT FROM e.request_id
   AND p.client_address IS NOT DISTINCT FROM e.client_address, false) AS agree
FROM audit_entry e, jsonb_to_record(e.payload::jsonb) AS p(
    seq bigint, action text, occurred_at text, actor_id bigint, actor_agency_id bigint, member_state text,
    object_type text, object_id text, case_id text, request_id text, client_address text)
WHERE e.seq >= :first AND e.seq <= :last
ORDER BY e.seq
"""


def _rows(first_seq: int, last_seq: int, batch_size: int, *, in_database: bool) -> Iterator[Any]:
    """(seq, prev_hash, entry_hash, payload, columns agree) in chain order, streamed."""
    if in_database:
        yield from db.session.execute(
            text(_PG_ROWS), {"first": first_seq, "last": last_seq}, execution_options={"yield_per": batch_size}
        )
        return
    stmt = (
        select(*_COLUMNS)
        .where(AuditEntry.seq >= first_seq, AuditEntry.seq <= last_seq)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size)
    )
    for row in db.session.execute(stmt):
        yield row[0], row[1], row[2], row[3], _columns_match(row, row[3])


def _entry_problem(
    row: Any, expected_seq: int, expected_prev: str, pins: dict[int, list[CheckpointClaim]]
) -> tuple[int, str] | None:
    """(seq, reason) when this row does not fit where it stands in the chain."""
    seq, prev_hash, stored_hash, payload, agree = row
    if seq != expected_seq:
        return expected_seq, "missing entry"
    if prev_hash != expected_prev:
        return seq, "previous hash does not match"
    if chain_hash(prev_hash, payload) != stored_hash:
        return seq, "entry content does not match its hash"
    if not agree:
        return seq, "entry columns do not match the hashed content"
    if seq in pins and any(c.entry_hash != stored_hash for c in pins[seq]):
        return seq, "entry differs from a signed checkpoint"
    return None


def _starting_point(head: AuditChainHead | None, start: CheckpointClaim | None) -> tuple[int, str]:
    """(first sequence number to walk, the hash it must link to)."""
    first_seq = head.first_seq if head is not None else 1
    expected_prev = head.first_prev_hash if head is not None else GENESIS_HASH
    if start is not None and start.seq >= first_seq:
        return start.seq + 1, start.entry_hash
    return first_seq, expected_prev


def verify_chain(
    batch_size: int = 20000, *, external: Iterable[CheckpointClaim] = (), start: CheckpointClaim | None = None
) -> VerificationResult:
    """Walk the kept chain in order and report the first entry that does not fit: a gap,
    a broken link, content that does not match its hash, indexed columns that disagree
    with the hashed payload, or an entry that differs from a signed checkpoint (stored
    ones, and ``external`` ones an outside party kept).

    ``start``: a signed checkpoint a previous full verification left; only what follows
    it is walked (an export checks what is new since the scheduled verification).
    """
    external = list(external)
    if db.engine.dialect.name == "postgresql":
        try:
            return _verify(batch_size, external, start, in_database=True)
        except DBAPIError:
            # A payload PostgreSQL cannot read as JSON: walk again, comparing in Python,
            # which names the entry instead of failing.
            db.session.rollback()
    return _verify(batch_size, external, start, in_database=False)


def _verify(
    batch_size: int, external: list[CheckpointClaim], start: CheckpointClaim | None, *, in_database: bool
) -> VerificationResult:
    # Checkpoints first, then the head: every checkpoint read is then at or below the head
    # read (a checkpoint never pins more than the head), so one above it means a cut tail,
    # not a checkpoint made while this ran. Entries committed meanwhile are for the next run.
    pins, bad_checkpoint = _stored_checkpoints(start.seq if start is not None else 0)
    head = db.session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    first_seq, expected_prev = _starting_point(head, start)
    head_seq = head.last_seq if head is not None else 0
    if bad_checkpoint is not None:
        return VerificationResult(False, 0, bad_checkpoint, "a stored checkpoint's signature does not hold")
    pins = {seq: claims for seq, claims in pins.items() if seq >= first_seq - 1}  # pruned ones go
    pruned_away = 0
    for claim in external:
        if claim.seq < first_seq - 1 and start is None:
            pruned_away += 1  # before the kept chain: it can no longer be checked
            continue
        pins.setdefault(claim.seq, []).append(claim)
    if start is None and first_seq > 1:
        # Only a signed "prune" checkpoint of the entry just before may start the kept chain:
        # moving the start forward by hand (and deleting what is before it) shows here.
        boundary = pins.get(first_seq - 1, [])
        if not any(c.purpose == "prune" and c.entry_hash == expected_prev for c in boundary):
            return VerificationResult(
                False, 0, first_seq, "the pruned part is not covered by a signed prune checkpoint"
            )
    expected_seq = first_seq
    checked = 0
    digest = sha256
    for row in _rows(first_seq, head_seq, batch_size, in_database=in_database):
        seq, prev_hash, stored_hash, payload, agree = row
        # The hot path: everything in order. Anything else gets its reason below.
        if (
            seq != expected_seq
            or prev_hash != expected_prev
            or not agree
            or seq in pins
            or digest((prev_hash + payload).encode("utf-8")).hexdigest() != stored_hash
        ):
            problem = _entry_problem(row, expected_seq, expected_prev, pins)
            if problem is not None:
                return VerificationResult(False, checked, problem[0], problem[1])
        expected_prev = stored_hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if head is not None and (head.last_seq != last_seq or head.last_hash != expected_prev):
        return VerificationResult(False, checked, last_seq + 1, "entries after the last one are missing")
    beyond = [seq for seq in pins if seq > last_seq]
    if beyond:
        return VerificationResult(False, checked, last_seq + 1, "entries covered by a signed checkpoint are missing")
    matched = sum(1 for seq in pins if first_seq <= seq <= last_seq)
    return VerificationResult(
        True,
        checked,
        last_seq=last_seq,
        last_hash=expected_prev,
        checkpoints=matched,
        unverifiable_checkpoints=pruned_away,
    )


# -- checkpoints ----------------------------------------------------------------------------


def issue_checkpoint(
    purpose: str, *, now: datetime | None = None, at: tuple[int, str] | None = None
) -> AuditCheckpoint | None:
    """Sign the current chain head, or the entry ``at`` = (seq, hash) a verification just
    reached (None when the chain is empty). Flushes, never commits."""
    if at is None:
        head = _lock_head()
        if head.last_seq == 0:
            return None
        at = (head.last_seq, head.last_hash)
    seq, entry_hash = at
    issued_at = now or utcnow()
    kid, token = sign_checkpoint(seq, entry_hash, issued_at, purpose)
    checkpoint = AuditCheckpoint(
        seq=seq, entry_hash=entry_hash, issued_at=issued_at, purpose=purpose, key_id=kid, token=token
    )
    db.session.add(checkpoint)
    db.session.flush()
    return checkpoint


def latest_checkpoint() -> AuditCheckpoint | None:
    return db.session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()


def checkpoint_due(now: datetime, every_minutes: int) -> bool:
    """A periodic checkpoint is due when the head moved since the last one and that one is old."""
    head = db.session.get(AuditChainHead, 1)
    if head is None or head.last_seq == 0:
        return False
    last = latest_checkpoint()
    if last is None:
        return True
    return last.seq < head.last_seq and (now - last.issued_at).total_seconds() >= every_minutes * 60


# -- retention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    pruned: int
    through_seq: int | None
    refused: str | None = None  # why nothing was pruned: the chain does not verify


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day if shorter)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def prune(now: datetime, *, batch_size: int = 10000) -> PruneResult:
    """Delete the oldest entries past their country's audit retention whose case no longer
    exists, keeping the chain verifiable.

    Only a prefix of the chain can go: the first entry that must stay ends the pruned
    part. A signed "prune" checkpoint of the last pruned entry is made first and the head
    records where the kept chain starts, so verification starts there. Entries without a
    country keep the longest retention of any country.
    """
    from app.accounts.models import MemberState
    from app.cases.models import Case

    # Never sign a boundary over a chain that does not verify: that would bury the evidence.
    verified = verify_chain()
    if not verified.ok:
        return PruneResult(0, None, f"the chain is broken at entry {verified.first_broken_seq}: {verified.reason}")
    head = _lock_head()
    states = db.session.execute(select(MemberState.code, MemberState.audit_retention_months)).all()
    if not states:
        return PruneResult(0, None)
    cutoffs = {code: months_before(now, months) for code, months in states}
    oldest_cutoff = min(cutoffs.values())
    cutoff = sql_case(cutoffs, value=AuditEntry.member_state_code, else_=oldest_cutoff)
    must_stay = or_(
        AuditEntry.occurred_at >= cutoff,
        AuditEntry.case_id.in_(select(Case.id)),
    )
    boundary = db.session.execute(
        select(func.min(AuditEntry.seq)).where(AuditEntry.seq >= head.first_seq, must_stay)
    ).scalar_one_or_none()
    through = (boundary if boundary is not None else head.last_seq + 1) - 1
    if through < head.first_seq:
        return PruneResult(0, None)
    through_hash = db.session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == through)).scalar_one()
    kid, token = sign_checkpoint(through, through_hash, now, "prune")
    db.session.add(
        AuditCheckpoint(seq=through, entry_hash=through_hash, issued_at=now, purpose="prune", key_id=kid, token=token)
    )
    first = head.first_seq
    head.first_seq = through + 1
    head.first_prev_hash = through_hash
    db.session.flush()
    pruned = 0
    while first <= through:
        upper = min(first + batch_size - 1, through)
        deleted = db.session.execute(delete(AuditEntry).where(AuditEntry.seq >= first, AuditEntry.seq <= upper))
        pruned += int(getattr(deleted, "rowcount", 0) or 0)
        first = upper + 1
    # Checkpoints of pruned entries no longer pin anything that can be checked.
    db.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq < through))
    record("audit.pruned", actor=None, details={"through_seq": through, "entries": pruned})
    return PruneResult(pruned, through)
