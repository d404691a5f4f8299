"""Response deadlines, and the job that reminds, expires and escalates.

Deadlines come from the receiving Member State's settings: emergency and urgent in hours,
routine in working days (that country's public holidays, ``app.cases.deadlines``). The
deadline is for the recipient's decision (accept or decline): an acknowledgement alone does
not stop the clock, because the person is still waiting.

Cross-border referrals have a deadline at each focal point too, from that focal point's
own country settings (``focal_point_*``); the service's deadline then starts when the
receiving focal point routes the referral.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import MemberState
from app.cases.deadlines import add_working_days
from app.core.errors import Conflict
from app.extensions import db
from app.referrals.models import Referral
from app.referrals.policies import PEER_RECEIVING
from app.referrals.vocabulary import DEADLINE_RUNNING, ReferralStatus, Urgency

# A reminder goes out when this share of the response window is left.
REMINDER_SHARE = 0.25


def response_deadline(sent_at: datetime, urgency: Urgency, state: MemberState) -> datetime:
    """The service's deadline, from the service's country."""
    return _deadline(
        sent_at,
        urgency,
        state,
        (state.referral_emergency_hours, state.referral_urgent_hours, state.referral_routine_working_days),
    )


def focal_point_deadline(started_at: datetime, urgency: Urgency, state: MemberState) -> datetime:
    """A focal point's deadline to approve or route, from that focal point's country."""
    return _deadline(
        started_at,
        urgency,
        state,
        (state.focal_point_emergency_hours, state.focal_point_urgent_hours, state.focal_point_routine_working_days),
    )


def _deadline(start: datetime, urgency: Urgency, state: MemberState, limits: tuple[int, int, int]) -> datetime:
    emergency_hours, urgent_hours, routine_working_days = limits
    if urgency == Urgency.EMERGENCY:
        return start + timedelta(hours=emergency_hours)
    if urgency == Urgency.URGENT:
        return start + timedelta(hours=urgent_hours)
    due_day = add_working_days(start.date(), routine_working_days, state.code, state.holiday_subdivision)
    return start + (due_day - start.date())


def reminder_due(referral: Referral) -> datetime:
    assert referral.sent_at is not None and referral.due_at is not None
    return referral.due_at - (referral.due_at - referral.sent_at) * REMINDER_SHARE


@dataclass
class TickResult:
    reminded: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    skipped: int = 0  # changed by someone else meanwhile: picked up next time if still due


def check_deadlines(now: datetime) -> TickResult:
    """Remind whoever must act (the service, or a focal point) of approaching deadlines,
    expire referrals past theirs and escalate to the supervisors. Idempotent: a second run
    at the same moment changes nothing. Each referral is handled in its own savepoint; the caller commits."""
    from app.referrals import services

    # A stage a peer installation owns (routing and the service's answer there) runs on its
    # clock: it expires the referral there, and the receipt brings the expiry here.
    ours = or_(
        Referral.peer_side.is_(None),
        Referral.peer_side != PEER_RECEIVING,
        Referral.status == ReferralStatus.FOCAL_POINT_REVIEW,
    )
    result = TickResult()
    due = db.session.execute(
        select(Referral)
        .options(joinedload(Referral.case))
        .where(Referral.status.in_(DEADLINE_RUNNING), Referral.due_at <= now, ours)
        .order_by(Referral.due_at)
    ).scalars()
    for referral in list(due):
        try:
            with db.session.begin_nested():
                services.expire(referral, now=now)
            result.expired.append(referral.id)
        except (StaleDataError, Conflict):
            result.skipped += 1
    pending = db.session.execute(
        select(Referral).where(
            Referral.status.in_(DEADLINE_RUNNING), Referral.reminded_at.is_(None), Referral.due_at > now, ours
        )
    ).scalars()
    for referral in list(pending):
        if reminder_due(referral) > now:
            continue
        try:
            with db.session.begin_nested():
                services.remind(referral, now=now)
            result.reminded.append(referral.id)
        except (StaleDataError, Conflict):
            result.skipped += 1
    return result
