"""What supervisors read: the filtered trail, a case's trail, one user's activity, anomaly
flags, and exports. Every reading is itself recorded.

Scope: a supervisor sees the entries of their own country (``member_state_code``), and
the whole trail of a case of their country. Entries carry ids and codes, never case
content; the pages show references and names of staff, not of victims.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import Agency, MemberState, User
from app.accounts.roles import Role
from app.accounts.services import FieldError
from app.audit.models import AuditCheckpoint, AuditEntry, BreakGlassAccess
from app.audit.services import issue_checkpoint, record, verify_chain
from app.audit.signing import BadCheckpoint, public_jwk, read_checkpoint
from app.cases.models import Case
from app.core.errors import NotFound, PermissionDenied
from app.extensions import db

PAGE_SIZE = 100
CASE_PAGE_SIZE = 500
EXPORT_LIMIT = 50_000

# Reads of case data that count towards "cases viewed per hour".
CASE_VIEW_ACTIONS = (
    "case.viewed",
    "identification.viewed",
    "referral.shared_viewed",
    "referral.viewed",
    "referral.form_viewed",
    "consent.form_viewed",
)


@dataclass(frozen=True)
class TrailFilter:
    case_reference: str | None = None
    user_email: str | None = None  # as typed; resolved to user_id before it reaches a URL
    user_id: int | None = None
    agency_id: int | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_details(self) -> dict[str, Any]:
        """For the trail and for URLs: the filter with dates as ISO strings, the user by id
        (a typed e-mail address is resolved first, ``resolved()``)."""
        return {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in asdict(self).items()
            if v not in (None, "") and k != "user_email"
        }


def resolved(actor: User, trail: TrailFilter) -> TrailFilter:
    """The filter checked (FieldError for an unknown case, user...) and with the typed
    e-mail address replaced by that user's id."""
    _conditions(actor, trail)
    if not trail.user_email:
        return trail
    user = user_in_state(actor, email=trail.user_email)
    return replace(trail, user_email=None, user_id=user.id)


def _supervisor_state(actor: User) -> str:
    if actor.role != Role.SUPERVISOR or actor.agency is None:
        raise PermissionDenied()
    return actor.agency.member_state_code


def case_in_state(actor: User, *, case_id: str | None = None, reference: str | None = None) -> Case:
    state = _supervisor_state(actor)
    query = select(Case).where(Case.member_state_code == state)
    if case_id is not None:
        query = query.where(Case.id == case_id)
    else:
        query = query.where(Case.reference == (reference or "").strip().upper())
    case = db.session.execute(query).scalar_one_or_none()
    if case is None:
        if reference is not None:
            raise FieldError("case_reference", _l("No case with this reference in your country."))
        raise NotFound()
    return case


def user_in_state(actor: User, *, user_id: int | None = None, email: str | None = None) -> User:
    state = _supervisor_state(actor)
    query = select(User).join(Agency, Agency.id == User.agency_id).where(Agency.member_state_code == state)
    if user_id is not None:
        query = query.where(User.id == user_id)
    else:
        query = query.where(func.lower(User.email) == (email or "").strip().lower())
    user = db.session.execute(query).scalar_one_or_none()
    if user is None:
        if email is not None:
            raise FieldError("user_email", _l("No user with this e-mail address in your country."))
        raise NotFound()
    return user


def _conditions(actor: User, trail: TrailFilter) -> list[ColumnElement[bool]]:
    state = _supervisor_state(actor)
    conditions: list[ColumnElement[bool]] = []
    if trail.case_reference:
        case = case_in_state(actor, reference=trail.case_reference)
        conditions.append(AuditEntry.case_id == case.id)
    else:
        conditions.append(AuditEntry.member_state_code == state)
    if trail.user_email:
        conditions.append(AuditEntry.actor_id == user_in_state(actor, email=trail.user_email).id)
    if trail.user_id is not None:
        try:
            conditions.append(AuditEntry.actor_id == user_in_state(actor, user_id=trail.user_id).id)
        except NotFound as exc:
            raise FieldError("user_email", _l("No user with this e-mail address in your country.")) from exc
    if trail.agency_id is not None:
        conditions.append(AuditEntry.actor_agency_id == trail.agency_id)
    if trail.action:
        action = trail.action.strip()
        if action.endswith("."):
            conditions.append(AuditEntry.action.startswith(action, autoescape=True))
        else:
            conditions.append(AuditEntry.action == action)
    if trail.date_from:
        conditions.append(AuditEntry.occurred_at >= datetime.combine(trail.date_from, time.min))
    if trail.date_to:
        conditions.append(AuditEntry.occurred_at < datetime.combine(trail.date_to + timedelta(days=1), time.min))
    return conditions


@dataclass
class TrailPage:
    entries: list[AuditEntry]
    older_than: int | None  # the keyset for the next (older) page, if there is one
    users: dict[int, User] = field(default_factory=dict)
    agencies: dict[int, Agency] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)  # case id -> reference


def _page(query: Select[tuple[AuditEntry]], limit: int) -> tuple[list[AuditEntry], bool]:
    rows = list(db.session.execute(query.limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def _with_names(entries: list[AuditEntry], older_than: int | None) -> TrailPage:
    """Staff names, agency names and case references for a page, in three queries at most."""
    page = TrailPage(entries, older_than)
    user_ids = {e.actor_id for e in entries if e.actor_id is not None}
    agency_ids = {e.actor_agency_id for e in entries if e.actor_agency_id is not None}
    case_ids = {e.case_id for e in entries if e.case_id is not None}
    if user_ids:
        page.users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars()}
    if agency_ids:
        page.agencies = {a.id: a for a in db.session.execute(select(Agency).where(Agency.id.in_(agency_ids))).scalars()}
    if case_ids:
        found = db.session.execute(select(Case.id, Case.reference).where(Case.id.in_(case_ids))).all()
        page.cases = {str(row[0]): str(row[1]) for row in found}
    return page


def search(actor: User, trail: TrailFilter, *, older_than: int | None = None) -> TrailPage:
    """Newest first, ``PAGE_SIZE`` at a time."""
    query = select(AuditEntry).where(*_conditions(actor, trail)).order_by(AuditEntry.seq.desc())
    if older_than is not None:
        query = query.where(AuditEntry.seq < older_than)
    entries, more = _page(query, PAGE_SIZE)
    record(
        "audit.searched",
        actor=actor,
        details={"filter": trail.as_details(), "shown": [e.seq for e in entries]},
    )
    return _with_names(entries, entries[-1].seq if more and entries else None)


def case_trail(actor: User, case_id: str, *, after: int | None = None) -> tuple[Case, TrailPage]:
    """A case's whole trail in order, ``CASE_PAGE_SIZE`` at a time (keyset on seq)."""
    case = case_in_state(actor, case_id=case_id)
    query = select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.seq)
    if after is not None:
        query = query.where(AuditEntry.seq > after)
    entries, more = _page(query, CASE_PAGE_SIZE)
    record("audit.case_trail_viewed", actor=actor, object_type="case", object_id=case.id, details={"after": after})
    return case, _with_names(entries, entries[-1].seq if more and entries else None)


def user_activity(actor: User, user_id: int, *, older_than: int | None = None) -> tuple[User, TrailPage]:
    user = user_in_state(actor, user_id=user_id)
    query = select(AuditEntry).where(AuditEntry.actor_id == user.id).order_by(AuditEntry.seq.desc())
    if older_than is not None:
        query = query.where(AuditEntry.seq < older_than)
    entries, more = _page(query, PAGE_SIZE)
    record("audit.user_trail_viewed", actor=actor, object_type="user", object_id=user.id)
    return user, _with_names(entries, entries[-1].seq if more and entries else None)


# -- anomalies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeavyViewing:
    user: User
    hour: datetime  # UTC, start of the hour
    cases: int


@dataclass(frozen=True)
class QuietHoursActivity:
    user: User
    hour: datetime  # local time of the country, start of the hour
    entries: int


@dataclass
class Anomalies:
    since: datetime
    threshold: int
    quiet_hours: tuple[int, int]
    heavy_viewing: list[HeavyViewing]
    quiet_hours_activity: list[QuietHoursActivity]
    break_glass: list[BreakGlassAccess]


def _hour_bucket() -> Any:
    if db.engine.dialect.name == "postgresql":
        return func.date_trunc("hour", AuditEntry.occurred_at)
    return func.strftime("%Y-%m-%d %H:00:00", AuditEntry.occurred_at)


def _as_datetime(value: Any) -> datetime:
    """An hour bucket as a naive UTC datetime (SQLite gives text)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def parse_quiet_hours(value: str) -> tuple[int, int]:
    start, _, end = value.partition("-")
    return int(start) % 24, int(end) % 24


def _in_quiet_hours(hour: int, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    return start <= hour < end if start < end else hour >= start or hour < end


def anomalies(actor: User, *, since: datetime, threshold: int, quiet_hours: tuple[int, int]) -> Anomalies:
    """Flags since ``since``: more distinct cases viewed in one hour than ``threshold``,
    activity in the country's quiet hours (its own time zone), and break-glass grants."""
    state = _supervisor_state(actor)
    bucket = _hour_bucket().label("hour")
    in_scope = (
        AuditEntry.member_state_code == state,
        AuditEntry.occurred_at >= since,
        AuditEntry.actor_id.is_not(None),
    )
    heavy_rows = db.session.execute(
        select(AuditEntry.actor_id, bucket, func.count(func.distinct(AuditEntry.case_id)))
        .where(*in_scope, AuditEntry.action.in_(CASE_VIEW_ACTIONS))
        .group_by(AuditEntry.actor_id, bucket)
        .having(func.count(func.distinct(AuditEntry.case_id)) > threshold)
        .order_by(bucket.desc())
        .limit(200)
    ).all()
    hourly_rows = db.session.execute(
        select(AuditEntry.actor_id, bucket, func.count()).where(*in_scope).group_by(AuditEntry.actor_id, bucket)
    ).all()
    member_state = db.session.get(MemberState, state)
    zone = ZoneInfo(member_state.timezone if member_state is not None else "UTC")
    quiet: list[tuple[int, datetime, int]] = []
    for user_id, hour, count in hourly_rows:
        local = _as_datetime(hour).replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
        if _in_quiet_hours(local.hour, quiet_hours):
            quiet.append((user_id, local, count))
    quiet.sort(key=lambda item: item[1], reverse=True)
    quiet = quiet[:200]
    user_ids = {row[0] for row in heavy_rows} | {row[0] for row in quiet}
    users = (
        {u.id: u for u in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars()} if user_ids else {}
    )
    grants = list(
        db.session.execute(
            select(BreakGlassAccess)
            .where(BreakGlassAccess.member_state_code == state, BreakGlassAccess.granted_at >= since)
            .order_by(BreakGlassAccess.granted_at.desc())
            .limit(200)
        ).scalars()
    )
    record("audit.anomalies_viewed", actor=actor, details={"since": since.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return Anomalies(
        since=since,
        threshold=threshold,
        quiet_hours=quiet_hours,
        heavy_viewing=[HeavyViewing(users[u], _as_datetime(h), n) for u, h, n in heavy_rows if u in users],
        quiet_hours_activity=[QuietHoursActivity(users[u], h, n) for u, h, n in quiet if u in users],
        break_glass=grants,
    )


# -- export -----------------------------------------------------------------------------------


class ChainBroken(Exception):
    """Verification failed: an export would not be a verified trail."""

    def __init__(self, seq: int | None, reason: str | None) -> None:
        self.seq = seq
        self.reason = reason
        super().__init__(f"audit chain broken at {seq}: {reason}")


EXPORT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_agency_id",
    "member_state",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "request_id",
    "client_address",
    "details",
    "payload",
    "prev_hash",
    "entry_hash",
)


@dataclass(frozen=True)
class Export:
    filename: str
    mimetype: str
    body: str


def _verified_checkpoint() -> AuditCheckpoint:
    """Verify the chain up to its head (from the newest checkpoint the scheduled full
    verification left, or from the start) and sign the head for this export."""
    start = db.session.execute(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.purpose == "verified")
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    claim = None
    if start is not None:
        try:
            claim = read_checkpoint(start.token)
        except BadCheckpoint as exc:
            raise ChainBroken(start.seq, "a stored checkpoint's signature does not hold") from exc
        if claim.purpose != "verified":  # the column is not signed, the claim is
            raise ChainBroken(start.seq, "a stored checkpoint says something else than its row")
    result = verify_chain(start=claim)
    if not result.ok:
        raise ChainBroken(result.first_broken_seq, result.reason)
    checkpoint = issue_checkpoint("export", at=(result.last_seq, result.last_hash) if result.last_seq else None)
    if checkpoint is None:
        raise ChainBroken(None, "empty chain")
    return checkpoint


def export(actor: User, trail: TrailFilter, fmt: str) -> Export:
    """The filtered trail (oldest first, at most ``EXPORT_LIMIT``) with a checkpoint signed
    after verifying the chain: each entry's payload and hashes let anyone holding the
    full chain check it against the checkpoint."""
    conditions = _conditions(actor, trail)
    checkpoint = _verified_checkpoint()
    entries = list(
        db.session.execute(
            select(AuditEntry)
            .where(*conditions, AuditEntry.seq <= checkpoint.seq)
            .order_by(AuditEntry.seq)
            .limit(EXPORT_LIMIT)
        ).scalars()
    )
    record(
        "audit.exported",
        actor=actor,
        details={
            "format": fmt,
            "filter": trail.as_details(),
            "entries": len(entries),
            "checkpoint_seq": checkpoint.seq,
        },
    )
    stamp = checkpoint.issued_at.strftime("%Y%m%dT%H%M%SZ")
    rows = [_export_row(e) for e in entries]
    if fmt == "json":
        body = json.dumps(
            {
                "format": "audit-trail-export/1",
                "filter": trail.as_details(),
                "checkpoint": {"seq": checkpoint.seq, "entry_hash": checkpoint.entry_hash, "jws": checkpoint.token},
                "public_key": public_jwk(),
                "entries": rows,
            },
            ensure_ascii=False,
            indent=1,
        )
        return Export(f"audit-trail-{stamp}.json", "application/json", body)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    # The first row is the checkpoint: entry ``seq`` has ``entry_hash``, signed (JWS in details).
    writer.writerow(
        {
            "seq": checkpoint.seq,
            "occurred_at": checkpoint.issued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": "audit.checkpoint",
            "details": checkpoint.token,
            "entry_hash": checkpoint.entry_hash,
        }
    )
    for row in rows:
        writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False, sort_keys=True)})
    return Export(f"audit-trail-{stamp}.csv", "text/csv", out.getvalue())


def _export_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": entry.actor_id,
        "actor_agency_id": entry.actor_agency_id,
        "member_state": entry.member_state_code,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "case_id": entry.case_id,
        "request_id": entry.request_id,
        "client_address": entry.client_address,
        "details": entry.details,
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def checkpoints(actor: User, *, limit: int = 50) -> list[AuditCheckpoint]:
    _supervisor_state(actor)
    return list(
        db.session.execute(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(limit)
        ).scalars()
    )


def grouped_changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, before, after) rows of an entry's field-level diff, if it has one."""
    changes = entry.details.get("changes") or {}
    return [
        (name, change.get("from"), change.get("to"))
        for name, change in sorted(changes.items())
        if isinstance(change, dict)
    ]
