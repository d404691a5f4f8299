"""Who sees which referral, and from which side.

Sender side: staff who may see the case (its agency's frontline staff, the country's focal
point). Recipient side: caseworkers of the agency that runs the receiving organisation; they
see only what was shared, and only until the grace period after the referral ended.
Cross-border referrals (issue 5) add two sides: the focal point of the sender's country,
which approves or returns, and that of the service's country, which sees the referral once
approved and routes it; the service sees it only once routed.
The same rules are SQL conditions for lists and object checks for pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, false, or_
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import MemberState, User
from app.accounts.roles import Role
from app.cases.policies import in_ordinary_scope
from app.referrals.models import Referral
from app.referrals.vocabulary import ENDED_STATUSES, ReferralStatus

# Which side a peer installation is on (``Referral.peer_side``).
PEER_RECEIVING = "receiving"  # it routes the referral: this is the sending side's copy
PEER_SENDING = "sending"  # it sent the referral: this is the receiving side's copy

SENDER_ROLES = (Role.FRONTLINE, Role.FOCAL_POINT)


def is_sender(actor: User | None, referral: Referral) -> bool:
    """Never on the receiving side's copy of a peer's referral: its sender is the peer."""
    return (
        actor is not None
        and referral.case is not None
        and actor.role in SENDER_ROLES
        and in_ordinary_scope(actor, referral.case)
    )


def is_domestic_sender(actor: User | None, referral: Referral) -> bool:
    return not referral.cross_border and is_sender(actor, referral)


def is_cross_border_sender(actor: User | None, referral: Referral) -> bool:
    """The sender of a cross-border referral who needs the focal point's approval."""
    return referral.cross_border and is_sender(actor, referral) and not is_sending_focal_point(actor, referral)


def designated_focal_point(country: str | None) -> int | None:
    """The agency set as the country's national focal point (its settings), if any."""
    from app.extensions import db

    if not country:
        return None
    with db.session.no_autoflush:  # a guard: it may run while a transition's fields change
        state = db.session.get(MemberState, country)
    return state.focal_point_agency_id if state is not None else None


def _designated(actor: User) -> bool:
    """Is the actor on the staff of the agency designated as its country's focal point? Read
    through the agency's country (loaded once and kept with the signed-in user), not by a
    lookup per check: the desk asks several times per page."""
    if actor.role != Role.FOCAL_POINT:
        return False
    from app.extensions import db

    with db.session.no_autoflush:  # a guard: it may run while a transition's fields change
        state = actor.agency.member_state
    return actor.agency_id == state.focal_point_agency_id


def _focal_point_of(actor: User | None, country: str | None) -> bool:
    """Staff of the agency designated as ``country``'s focal point: only they act for it
    across borders (another national agency of the country does not)."""
    return (
        actor is not None and country is not None and actor.agency.member_state_code == country and _designated(actor)
    )


def is_sending_focal_point(actor: User | None, referral: Referral) -> bool:
    """Not here when a peer installation sent the referral: its focal point acted there."""
    return (
        referral.cross_border
        and referral.peer_side != PEER_SENDING
        and _focal_point_of(actor, referral.origin_state_code)
    )


def is_receiving_focal_point(actor: User | None, referral: Referral) -> bool:
    """Only once the sending focal point has approved the referral (or made it); not here
    when a peer installation routes it."""
    return (
        referral.cross_border
        and referral.approved_at is not None
        and referral.peer_side != PEER_RECEIVING
        and _focal_point_of(actor, referral.member_state_code)
    )


def is_recipient(actor: User | None, referral: Referral) -> bool:
    return (
        actor is not None
        and actor.role == Role.CASEWORKER
        and actor.agency_id == referral.recipient_agency_id
        and referral.status != ReferralStatus.DRAFT
        and (not referral.cross_border or referral.routed_at is not None)
    )


def is_system(actor: User | None, _referral: Referral) -> bool:
    return actor is None


def inbox_filter(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.CASEWORKER:
        return false()
    return and_(
        Referral.recipient_agency_id == actor.agency_id,
        Referral.status != ReferralStatus.DRAFT,
        or_(Referral.origin_state_code.is_(None), Referral.routed_at.is_not(None)),
    )


def incoming_filter(actor: User) -> ColumnElement[bool]:
    """Cross-border referrals into the focal point's country, once approved on the other side."""
    if not _designated(actor):
        return false()
    return and_(
        Referral.member_state_code == actor.agency.member_state_code,
        Referral.origin_state_code.is_not(None),
        Referral.approved_at.is_not(None),
        or_(Referral.peer_side.is_(None), Referral.peer_side != PEER_RECEIVING),
    )


def outgoing_filter(actor: User) -> ColumnElement[bool]:
    """Cross-border referrals from the focal point's country (drafts are the sender's own)."""
    if not _designated(actor):
        return false()
    return and_(
        Referral.origin_state_code == actor.agency.member_state_code,
        Referral.status != ReferralStatus.DRAFT,
        or_(Referral.peer_side.is_(None), Referral.peer_side != PEER_SENDING),
    )


def can_read_shared(actor: User, referral: Referral, now: datetime, grace: timedelta) -> bool:
    """The receiving side (the service, and across borders the receiving focal point)."""
    if not (is_recipient(actor, referral) or is_receiving_focal_point(actor, referral)):
        return False
    return referral.status not in ENDED_STATUSES or (referral.ended_at is not None and referral.ended_at >= now - grace)
