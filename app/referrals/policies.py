"""Who sees which referral, and from which side.

Sender side: staff who may see the case (its agency's frontline staff, the country's focal
point). Recipient side: caseworkers of the agency that runs the receiving organisation; they
see only what was shared, and only until the grace period after the referral ended.
The same rules are SQL conditions for lists and object checks for pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, false
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User
from app.accounts.roles import Role
from app.cases.policies import in_ordinary_scope
from app.referrals.models import Referral
from app.referrals.vocabulary import ENDED_STATUSES, ReferralStatus

SENDER_ROLES = (Role.FRONTLINE, Role.FOCAL_POINT)


def is_sender(actor: User | None, referral: Referral) -> bool:
    return actor is not None and actor.role in SENDER_ROLES and in_ordinary_scope(actor, referral.case)


def is_recipient(actor: User | None, referral: Referral) -> bool:
    return (
        actor is not None
        and actor.role == Role.CASEWORKER
        and actor.agency_id == referral.recipient_agency_id
        and referral.status != ReferralStatus.DRAFT
    )


def is_system(actor: User | None, _referral: Referral) -> bool:
    return actor is None


def inbox_filter(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.CASEWORKER:
        return false()
    return and_(Referral.recipient_agency_id == actor.agency_id, Referral.status != ReferralStatus.DRAFT)


def can_read_shared(actor: User, referral: Referral, now: datetime, grace: timedelta) -> bool:
    if not is_recipient(actor, referral):
        return False
    return referral.status not in ENDED_STATUSES or (referral.ended_at is not None and referral.ended_at >= now - grace)
