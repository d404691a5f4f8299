"""Break-glass access: emergency access to one case outside one's ordinary scope.

Granted at once on a written justification (an officer at 2 a.m. cannot wait for an
approval), for ``BREAK_GLASS_DURATION`` (3 hours by default), within one's own country.
The case's owner agency and the country's supervisors are notified; every grant waits in
the supervisors' review queue until one of them records a review. Every view of the case
under the grant is marked in the trail (``details.break_glass``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import User
from app.accounts.roles import Role
from app.accounts.services import FieldError, active_staff
from app.audit.models import AuditEntry, BreakGlassAccess, BreakGlassReview
from app.audit.services import record
from app.cases.models import Case
from app.cases.policies import active_grant, in_ordinary_scope
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.extensions import db
from app.notifications.services import notify

MIN_JUSTIFICATION = 20
MAX_TEXT = 2000
REQUESTING_ROLES = (Role.FRONTLINE, Role.FOCAL_POINT)


def _case_by_reference(actor: User, reference: str) -> Case:
    case = db.session.execute(select(Case).where(Case.reference == reference.strip().upper())).scalar_one_or_none()
    # Another country's case is as unknown as a case that does not exist.
    if case is None or case.member_state_code != actor.agency.member_state_code:
        raise FieldError("reference", _l("No case with this reference in your country."))
    return case


def _owner_staff(case: Case) -> list[User]:
    """Who is told: the assigned worker, or else the owner agency's active frontline staff."""
    if case.assigned_user is not None and case.assigned_user.active:
        return [case.assigned_user]
    return active_staff(case.owner_agency_id, Role.FRONTLINE)


def _supervisors(member_state_code: str) -> list[User]:
    from app.accounts.models import Agency

    return list(
        db.session.execute(
            select(User)
            .join(Agency, Agency.id == User.agency_id)
            .where(
                Agency.member_state_code == member_state_code,
                User.role == Role.SUPERVISOR,
                User.active.is_(True),
            )
        ).scalars()
    )


def request_access(
    actor: User, *, reference: str, justification: str, now: datetime, duration: timedelta
) -> BreakGlassAccess:
    """Grant emergency access to the case with ``reference`` (flushes, never commits)."""
    if actor.role not in REQUESTING_ROLES:
        raise PermissionDenied()
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise FieldError(
            "justification",
            _l("Explain in at least %(n)s characters why you need this case now.", n=MIN_JUSTIFICATION),
        )
    if len(justification) > MAX_TEXT:
        raise FieldError("justification", _l("Keep the justification under %(n)s characters.", n=MAX_TEXT))
    case = _case_by_reference(actor, reference)
    if in_ordinary_scope(actor, case):
        raise FieldError("reference", _l("You can already open this case: no emergency access is needed."))
    existing = active_grant(actor, case.id)
    if existing is not None:
        return existing
    grant = BreakGlassAccess(
        case_id=case.id,
        member_state_code=case.member_state_code,
        user_id=actor.id,
        granted_at=now,
        expires_at=now + duration,
    )
    grant.justification = justification
    db.session.add(grant)
    db.session.flush()
    record(
        "break_glass.granted",
        actor=actor,
        object_type="break_glass",
        object_id=grant.id,
        case_id=case.id,
        details={"expires_at": grant.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    notify(_owner_staff(case), "break_glass.used", link="/notifications")
    notify(_supervisors(case.member_state_code), "break_glass.review", link=f"/audit/break-glass/{grant.id}")
    return grant


def _supervised(actor: User, grant_id: str) -> BreakGlassAccess:
    grant = db.session.execute(
        select(BreakGlassAccess)
        .options(joinedload(BreakGlassAccess.user), joinedload(BreakGlassAccess.case))
        .where(
            BreakGlassAccess.id == grant_id,
            BreakGlassAccess.member_state_code == actor.agency.member_state_code,
        )
    ).scalar_one_or_none()
    if grant is None or actor.role != Role.SUPERVISOR:
        raise NotFound()
    return grant


@dataclass(frozen=True)
class GrantDetail:
    grant: BreakGlassAccess
    uses: list[AuditEntry]


def grant_detail(actor: User, grant_id: str) -> GrantDetail:
    """A grant with what its holder did on that case while it lasted; the viewing is recorded."""
    grant = _supervised(actor, grant_id)
    uses = list(
        db.session.execute(
            select(AuditEntry)
            .where(
                AuditEntry.case_id == grant.case_id,
                AuditEntry.actor_id == grant.user_id,
                AuditEntry.occurred_at >= grant.granted_at,
                AuditEntry.occurred_at <= grant.expires_at,
            )
            .order_by(AuditEntry.seq)
            .limit(500)
        ).scalars()
    )
    record(
        "break_glass.review_viewed", actor=actor, object_type="break_glass", object_id=grant.id, case_id=grant.case_id
    )
    return GrantDetail(grant, uses)


def review(
    actor: User, grant_id: str, *, outcome: BreakGlassReview, note: str, version: int, now: datetime
) -> BreakGlassAccess:
    grant = _supervised(actor, grant_id)
    if grant.user_id == actor.id:
        raise PermissionDenied()
    if grant.version != version or grant.reviewed_at is not None:
        raise Conflict()
    note = note.strip()
    if outcome == BreakGlassReview.NOT_JUSTIFIED and not note:
        raise FieldError("note", _l("Say what was wrong with this access; the note is kept with the review."))
    if len(note) > MAX_TEXT:
        raise FieldError("note", _l("Keep the note under %(n)s characters.", n=MAX_TEXT))
    grant.reviewed_at = now
    grant.reviewer_id = actor.id
    grant.review_outcome = outcome
    grant.review_note = note or None
    if outcome == BreakGlassReview.NOT_JUSTIFIED and grant.expires_at > now:
        # An access found unjustified ends now, not when its hours run out.
        grant.expires_at = max(now, grant.granted_at + timedelta(microseconds=1))
    try:
        db.session.flush()
    except StaleDataError as exc:  # another supervisor reviewed it at the same moment
        raise Conflict() from exc
    record(
        "break_glass.reviewed",
        actor=actor,
        object_type="break_glass",
        object_id=grant.id,
        case_id=grant.case_id,
        details={"outcome": outcome.value, "holder": grant.user_id},
    )
    return grant


QUEUE_LIMIT = 200


def review_queue(actor: User) -> tuple[list[BreakGlassAccess], list[BreakGlassAccess]]:
    """(waiting for review, oldest first; recently reviewed, newest first) in one's country."""
    if actor.role != Role.SUPERVISOR:
        raise PermissionDenied()
    state = actor.agency.member_state_code
    base = select(BreakGlassAccess).options(
        joinedload(BreakGlassAccess.user), joinedload(BreakGlassAccess.case), joinedload(BreakGlassAccess.reviewer)
    )
    waiting = list(
        db.session.execute(
            base.where(BreakGlassAccess.member_state_code == state, BreakGlassAccess.reviewed_at.is_(None))
            .order_by(BreakGlassAccess.granted_at)
            .limit(QUEUE_LIMIT)
        ).scalars()
    )
    reviewed = list(
        db.session.execute(
            base.where(BreakGlassAccess.member_state_code == state, BreakGlassAccess.reviewed_at.is_not(None))
            .order_by(BreakGlassAccess.reviewed_at.desc())
            .limit(50)
        ).scalars()
    )
    record(
        "break_glass.queue_viewed",
        actor=actor,
        object_type="break_glass",
        details={"shown": [g.id for g in waiting + reviewed]},
    )
    return waiting, reviewed
