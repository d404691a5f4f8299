"""Referrals: create, send, answer, close; the rules of consent, area and data-sharing scope.

Services take the actor explicitly, flush and never commit. Every transition goes through
``REFERRAL_TRANSITIONS`` (app.referrals.states), which checks the side and writes the audit
entry; this module adds timestamps, history, timeline entries and notifications.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import MemberState, User
from app.accounts.roles import Role, has_permission
from app.accounts.services import FieldError, active_staff
from app.audit.services import field_changes, record
from app.cases.models import Case, CaseEvent
from app.cases.vocabulary import CaseStatus
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.core.statemachine import apply_transition
from app.directory.models import Service
from app.directory.queries import Needs, Suggestion, suggest
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.federation.models import FederationPeer
from app.notifications.services import notify
from app.privacy.models import Consent
from app.referrals import VITAL_INTEREST, federated
from app.referrals.deadlines import focal_point_deadline, response_deadline
from app.referrals.matching import BASELINE, suggestions_for
from app.referrals.models import Referral, ReferralEvent
from app.referrals.policies import (
    PEER_RECEIVING,
    PEER_SENDING,
    designated_focal_point,
    inbox_filter,
    incoming_filter,
    is_receiving_focal_point,
    is_recipient,
    is_sender,
    is_sending_focal_point,
    outgoing_filter,
)
from app.referrals.sharing import from_snapshot
from app.referrals.states import REFERRAL_TRANSITIONS, SIDE_OF_GUARD
from app.referrals.vocabulary import (
    AT_FOCAL_POINT,
    AWAITING_DECISION,
    DEADLINE_RUNNING,
    ENDED_STATUSES,
    OPEN_STATUSES,
    PSEUDONYMISED_PARTS,
    DeclineReason,
    IdentityDecision,
    LegalBasis,
    Outcome,
    ReferralStatus,
    SharedPart,
    Side,
    Urgency,
)

MIN_JUSTIFICATION = 20
MAX_TEXT = 2000


@dataclass
class ReferralRequest:
    service_id: str
    purpose: str
    urgency: Urgency
    shared_parts: list[SharedPart] = field(default_factory=list)
    legal_basis: LegalBasis = LegalBasis.CONSENT
    justification: str = ""
    send: bool = True
    pseudonymised: bool = False  # cross-border only: no name travels until released
    # To a country served by a peer installation: the kind of service, chosen there.
    country: str = ""
    service_type: ServiceType | None = None


@dataclass
class Answer:
    """What a transition may carry besides its action."""

    decline_reason: DeclineReason | None = None
    note: str = ""  # a decline's note, or the sending focal point's comment when returning
    outcome: Outcome | None = None
    services_delivered: str = ""
    service_id: str = ""  # where the receiving focal point routes the referral


# -- creating --------------------------------------------------------------------------


def create(actor: User, case: Case, data: ReferralRequest) -> Referral:
    """Check every rule, then make the referral (a draft, or sent at once)."""
    if actor.role not in (Role.FRONTLINE, Role.FOCAL_POINT):
        raise PermissionDenied()
    if case.status == CaseStatus.CLOSED:
        raise Conflict(_l("The case is closed. Reopen it before referring the person."))
    if data.country and not data.service_id:
        return _create_for_peer(actor, case, data)
    service = _referrable_service(case, data.service_id)
    cross_border = service.member_state_code != case.member_state_code
    _check_minimised(data, cross_border=cross_border)
    purpose = _checked_purpose(data)
    consent = _legal_basis(actor, case, service.organization_id, service.service_type, data, cross_border=cross_border)
    if _open_referral_exists(case.id, service.id):
        raise FieldError("service_id", _l("This case already has an open referral to this service."))
    assert service.organization.agency_id is not None
    referral = Referral(
        case_id=case.id,
        service_id=service.id,
        recipient_organization_id=service.organization_id,
        recipient_agency_id=service.organization.agency_id,
        sender_agency_id=actor.agency_id,
        sender_user_id=actor.id,
        member_state_code=service.member_state_code,
        origin_state_code=case.member_state_code if cross_border else None,
        pseudonymised=data.pseudonymised,
        status=ReferralStatus.DRAFT,
        urgency=data.urgency,
        shared_parts=sorted({p.value for p in data.shared_parts}),
        legal_basis=data.legal_basis,
        consent_id=consent.id if consent else None,
    )
    referral.service = service
    return _made(actor, case, referral, data, purpose, service_type=service.service_type)


def _create_for_peer(actor: User, case: Case, data: ReferralRequest) -> Referral:
    """A referral to a country served by a peer installation: its focal point chooses the
    service there, of the kind asked for here."""
    peer = federated.peer_for(data.country)
    if peer is None or not _focal_points_exist(case.member_state_code):
        raise FieldError(
            "service_type",
            _l(
                "A referral to another country goes through both national focal points, and one of the two "
                "countries has none in this system yet. Contact your national focal point."
            ),
        )
    if data.service_type is None:
        raise FieldError("service_type", _l("Choose the kind of service the person needs."))
    _check_minimised(data, cross_border=True)
    purpose = _checked_purpose(data)
    consent = _legal_basis(actor, case, None, data.service_type, data, cross_border=True)
    referral = Referral(
        case_id=case.id,
        sender_agency_id=actor.agency_id,
        sender_user_id=actor.id,
        member_state_code=data.country,
        origin_state_code=case.member_state_code,
        peer_id=peer.id,
        peer_side=PEER_RECEIVING,
        service_type=data.service_type,
        pseudonymised=data.pseudonymised,
        status=ReferralStatus.DRAFT,
        urgency=data.urgency,
        shared_parts=sorted({p.value for p in data.shared_parts}),
        legal_basis=data.legal_basis,
        consent_id=consent.id if consent else None,
    )
    return _made(actor, case, referral, data, purpose, service_type=data.service_type)


def _checked_purpose(data: ReferralRequest) -> str:
    purpose = data.purpose.strip()
    if not purpose:
        raise FieldError("purpose", _l("Say what the person needs from this service."))
    if len(purpose) > MAX_TEXT:
        raise FieldError("purpose", _l("Use at most 2000 characters."))
    return purpose


def _made(
    actor: User, case: Case, referral: Referral, data: ReferralRequest, purpose: str, *, service_type: ServiceType
) -> Referral:
    """Keep a new referral, record it, and send it when asked to."""
    referral.purpose = purpose
    referral.purpose_language = actor.preferred_language
    referral.justification = data.justification.strip() or None
    referral.case = case
    db.session.add(referral)
    _flush_unique(referral)
    record(
        "referral.created",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        details={
            "case": case.id,
            "service": referral.service_id,
            "service_type": service_type.value,
            "urgency": data.urgency.value,
            "shared_parts": referral.shared_parts,
            "legal_basis": data.legal_basis.value,
            "consent": referral.consent_id,
            "cross_border_to": referral.member_state_code if referral.cross_border else None,
            "peer": referral.peer_id,
            "pseudonymised": data.pseudonymised,
        },
    )
    if data.legal_basis != LegalBasis.CONSENT:
        record(
            "referral.consent_exception",
            actor=actor,
            object_type="referral",
            object_id=referral.id,
            details={"case": case.id, "basis": data.legal_basis.value, "service_type": service_type.value},
        )
    if data.send:
        transition(actor, referral, first_step(actor, referral), version=referral.version)
    return referral


def first_step(actor: User, referral: Referral) -> str:
    """Sending a new referral: straight to the service at home; across borders to the
    national focal point, or, when the sender is that focal point, to the other country's."""
    if not referral.cross_border:
        return "send"
    return "forward" if is_sending_focal_point(actor, referral) else "submit"


def cross_border_countries(case: Case) -> list[str]:
    """Countries a case can be referred to across borders: both need a focal point here, or
    the other country an installation of its own among the peers."""
    if not _focal_points_exist(case.member_state_code):
        return []
    here = db.session.execute(
        select(MemberState.code)
        .where(MemberState.focal_point_agency_id.is_not(None), MemberState.code != case.member_state_code)
        .order_by(MemberState.code)
    ).scalars()
    return sorted({*here, *federated.peer_countries()} - {case.member_state_code})


def _check_minimised(data: ReferralRequest, *, cross_border: bool) -> None:
    if not data.pseudonymised:
        return
    if not cross_border:
        raise FieldError("pseudonymised", _l("Only a referral to another country can be pseudonymised."))
    extra = {p for p in data.shared_parts if p not in PSEUDONYMISED_PARTS}
    if extra:
        raise FieldError(
            "shared_parts",
            _l(
                "A pseudonymised referral shares no names, contact details, documents or notes. "
                "Untick them, or send the referral with the person's identity."
            ),
        )


def _referrable_service(case: Case, service_id: str) -> Service:
    service = db.session.execute(
        select(Service).options(joinedload(Service.organization)).where(Service.id == service_id)
    ).scalar_one_or_none()
    if service is None:
        raise FieldError("service_id", _l("Choose a service from the suggestions or the directory."))
    if not (service.active and service.organization.active):
        raise FieldError("service_id", _l("This service is not active. Choose another one."))
    if service.member_state_code != case.member_state_code and not _focal_points_exist(
        case.member_state_code, service.member_state_code
    ):
        raise FieldError(
            "service_id",
            _l(
                "A referral to another country goes through both national focal points, and one of the two "
                "countries has none in this system yet. Contact your national focal point."
            ),
        )
    if service.organization.agency_id is None:
        raise FieldError(
            "service_id", _l("This organisation does not receive referrals through this system. Contact it directly.")
        )
    return service


def _focal_points_exist(*countries: str) -> bool:
    rows = db.session.execute(
        select(MemberState.focal_point_agency_id).where(MemberState.code.in_(countries))
    ).scalars()
    found = [agency_id for agency_id in rows if agency_id is not None]
    return len(found) == len(set(countries))


def covering_consent(case: Case, organization_id: str | None, *, cross_border: bool = False) -> Consent | None:
    """The newest active consent that covers a referral with data sharing to this organisation.

    Across borders the consent must cover the transfer abroad explicitly; the receiving
    focal point chooses the service, so naming an organisation is not required then."""
    query = select(Consent).where(
        Consent.case_id == case.id,
        Consent.withdrawn_on.is_(None),
        Consent.assistance_referral.is_(True),
        Consent.data_sharing.is_(True),
    )
    if cross_border:
        query = query.where(Consent.cross_border.is_(True))
    consents = db.session.execute(query.order_by(Consent.recorded_at.desc())).scalars()
    return next((c for c in consents if cross_border or organization_id in (c.organization_ids or [])), None)


def _legal_basis(
    actor: User,
    case: Case,
    organization_id: str | None,
    service_type: ServiceType,
    data: ReferralRequest,
    *,
    cross_border: bool,
) -> Consent | None:
    if data.legal_basis == LegalBasis.CONSENT:
        consent = covering_consent(case, organization_id, cross_border=cross_border)
        if consent is None and cross_border:
            raise FieldError(
                "legal_basis",
                _l(
                    "No active consent covers a referral to another country. Record the person's consent to "
                    "cross-border transfer, or choose an exception that applies."
                ),
            )
        if consent is None:
            raise FieldError(
                "legal_basis",
                _l(
                    "No active consent covers a referral to this organisation. Record the person's consent, "
                    "naming the organisation, or choose an exception that applies."
                ),
            )
        return consent
    if data.legal_basis == LegalBasis.CHILD_PROTECTION:
        if not (case.presumed_child and service_type == ServiceType.CHILD_PROTECTION):
            raise FieldError(
                "legal_basis", _l("This exception applies only to a child referred to a child-protection service.")
            )
        return None
    if not has_permission(actor.role, VITAL_INTEREST.name):
        raise FieldError(
            "legal_basis", _l("Your role may not make a vital-interest exception. Ask your national focal point.")
        )
    if len(data.justification.strip()) < MIN_JUSTIFICATION:
        raise FieldError(
            "justification",
            _l("Explain why the person's life or safety cannot wait for consent (20 characters or more)."),
        )
    if len(data.justification) > MAX_TEXT:
        raise FieldError("justification", _l("Use at most 2000 characters."))
    return None


def _open_referral_exists(case_id: str | None, service_id: str | None, *, other_than: str | None = None) -> bool:
    """Another open referral of the case to the service (none to check for a copy without
    a case or a service: the receiving or the sending side of a peer's referral)."""
    if case_id is None or service_id is None:
        return False
    query = select(Referral.id).where(
        Referral.case_id == case_id, Referral.service_id == service_id, Referral.status.in_(OPEN_STATUSES)
    )
    if other_than:
        query = query.where(Referral.id != other_than)
    return db.session.execute(query.limit(1)).first() is not None


def _flush_unique(referral: Referral) -> None:
    """Flush; a concurrent second open referral to the same service fails on the unique index."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise FieldError("service_id", _l("This case already has an open referral to this service.")) from None


# -- transitions -----------------------------------------------------------------------


def transition(
    actor: User | None,
    referral: Referral,
    action: str,
    *,
    version: int,
    answer: Answer | None = None,
    now: datetime | None = None,
    peer: FederationPeer | None = None,
    remote: dict[str, Any] | None = None,
) -> Referral:
    """Apply one row of the transition table, with optimistic locking on ``version``.

    ``peer``: the change was made on the peer installation that holds the other side of
    the referral (applied from its receipt, with the receipt's checked ``remote`` fields);
    the row's side must be the one that peer is on."""
    if referral.version != version:
        raise Conflict()
    answer = answer or Answer()
    now = now or utcnow()
    row = REFERRAL_TRANSITIONS.find(referral.status, action)
    if row is None:
        raise Conflict(_l("This action is not possible in the referral's current state. Reload the page."))
    if peer is not None:
        side = SIDE_OF_GUARD[row.allowed]
        if referral.peer_id != peer.id or side not in PEER_SIDES[referral.peer_side or ""]:
            raise PermissionDenied()
        before = _tracked(referral)
        details = {**_prepare_from_peer(referral, action, remote or {}, now), "peer": peer.id}
    else:
        if not row.allowed(actor, referral):
            raise PermissionDenied()
        side = _side_of(row.allowed, actor, referral)  # reads the settings: before any field changes
        before = _tracked(referral)
        details = _prepare(referral, action, answer, now, actor.preferred_language if actor else None)
    if row.target in ENDED_STATUSES:
        referral.ended_at = now
    previous = referral.status
    changes = field_changes(before, _tracked(referral), personal=PERSONAL_FIELDS)
    try:
        # The audit entry flushes the referral's UPDATE ... WHERE version = read version:
        # when someone else changed it meanwhile, no row matches and nothing is written.
        apply_transition(
            REFERRAL_TRANSITIONS,
            referral,
            action,
            actor=actor,
            details={**details, "changes": changes},
            side_checked=peer is not None,
        )
    except StaleDataError:
        raise Conflict() from None
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            at=now,
            actor_id=actor.id if actor else None,
            side=side.value,
            action=action,
            from_status=previous.value,
            to_status=referral.status.value,
            details=details,
        )
    )
    if referral.case_id is not None:
        db.session.add(
            CaseEvent(
                case_id=referral.case_id,
                at=now,
                actor_id=actor.id if actor else None,
                kind=f"referral.{action}",
                details={"referral": referral.id, "service": referral.service_id},
            )
        )
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict() from None
    except IntegrityError:
        raise FieldError("service_id", _l("This case already has an open referral to this service.")) from None
    _notify(referral, action, previous, now)
    if peer is None and referral.peer_id is not None:
        federated.after_transition(referral, action, previous, now)
    return referral


# The sides a peer installation may act as: the receiving side's (routing, the service's
# answers, its deadline) or the sending side's (forwarding again, withdrawing).
PEER_SIDES: dict[str, tuple[Side, ...]] = {
    PEER_RECEIVING: (Side.RECEIVING_FOCAL_POINT, Side.RECIPIENT, Side.SYSTEM),
    PEER_SENDING: (Side.SENDER, Side.SENDING_FOCAL_POINT),
    "": (),
}


def _prepare_from_peer(referral: Referral, action: str, remote: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Set what a change made on the peer's side carries (checked by ``federated``)."""
    if action == "forward":  # the peer's focal point sends it (again): our focal point's stage
        return _prepare_focal_point_stage(referral, action, now)
    if action in ("route", "reopen"):
        _start_stage(referral, now, remote["due_at"])
        if action == "route":
            referral.remote_service = remote["service"]
            referral.routed_at = now
        return {"due_at": referral.due_at.isoformat(timespec="minutes") if referral.due_at else None}
    if action == "decline":
        referral.decline_reason = remote["reason"]
        referral.decline_note, referral.decline_note_language = remote["note"]
        return {"reason": referral.decline_reason.value}
    if action == "complete":
        referral.outcome = remote["outcome"]
        referral.services_delivered, referral.services_delivered_language = remote["services_delivered"]
        return {"outcome": referral.outcome.value}
    return _prepare(referral, action, Answer(), now, None)  # acknowledge, accept, start, expire, withdraw


def _side_of(guard: Any, actor: User | None, referral: Referral) -> Side:
    """The side that acted: the guard's, except that the sending focal point acting as a
    sender (withdrawing, say) is recorded as the focal point it is."""
    side = SIDE_OF_GUARD[guard]
    if side == Side.SENDER and is_sending_focal_point(actor, referral):
        return Side.SENDING_FOCAL_POINT
    return side


# Fields a transition may set besides the status. The free texts are about the person:
# masked in the audit trail's before/after.
TRACKED_FIELDS = (
    "service_id",
    "recipient_agency_id",
    "remote_service",
    "submitted_at",
    "approved_at",
    "routed_at",
    "return_note",
    "sent_at",
    "due_at",
    "acknowledged_at",
    "accepted_at",
    "ended_at",
    "reminded_at",
    "escalated_at",
    "decline_reason",
    "decline_note",
    "outcome",
    "services_delivered",
)
PERSONAL_FIELDS = ("decline_note", "services_delivered", "return_note")


def _tracked(referral: Referral) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TRACKED_FIELDS:
        value = getattr(referral, name)
        values[name] = value.isoformat(timespec="minutes") if isinstance(value, datetime) else value
    return values


def _prepare(referral: Referral, action: str, answer: Answer, now: datetime, language: str | None) -> dict[str, Any]:
    """Check what the action needs and set its fields; returns the audit details (codes only).
    ``language``: the writer's, kept with the free text they write."""
    if action in SHARING_ACTIONS:
        _check_consent_still_covers(referral)
    if action in ("send", "reopen"):
        return _prepare_sending(referral, action, now)
    if action in ("submit", "resubmit", "forward", "approve"):
        return _prepare_focal_point_stage(referral, action, now)
    if action == "return":
        return _prepare_return(referral, answer, now, language)
    if action == "route":
        return _prepare_routing(referral, answer, now)
    if action == "decline":
        return _prepare_decline(referral, answer, language)
    if action == "complete":
        return _prepare_completion(referral, answer, language)
    if action == "expire":
        referral.escalated_at = now
    elif action == "acknowledge":
        referral.acknowledged_at = now
    elif action == "accept":
        referral.acknowledged_at = referral.acknowledged_at or now
        referral.accepted_at = now
    return {}


def withdraw_where_consent_lapsed(actor: User, case: Case) -> list[Referral]:
    """A consent withdrawn: each referral of the case that waits on it at a peer
    installation's focal point is withdrawn, by the one who records the withdrawal (the
    withdrawal travels). Its routing to a service happens there, where this consent cannot
    be checked; inside one installation the routing re-checks it instead."""
    if covering_consent(case, None, cross_border=True) is not None:
        return []
    waiting = list(
        db.session.execute(
            select(Referral).where(
                Referral.case_id == case.id,
                Referral.peer_side == PEER_RECEIVING,
                Referral.status == ReferralStatus.FOCAL_POINT_ROUTING,
                Referral.legal_basis == LegalBasis.CONSENT,
            )
        ).scalars()
    )
    for referral in waiting:
        transition(actor, referral, "withdraw", version=referral.version)
    return waiting


# Actions that pass the shared data on to someone new (or again): the legal basis must
# still hold at that moment, not only when the referral was made.
SHARING_ACTIONS = ("send", "reopen", "submit", "resubmit", "forward", "approve", "route")


def _check_consent_still_covers(referral: Referral) -> None:
    """A referral made with consent goes no further once the person has withdrawn it (or it
    no longer covers the recipient, or the transfer abroad); the newest covering consent is
    kept as the referral's basis."""
    if referral.legal_basis != LegalBasis.CONSENT or referral.case is None:
        return  # (a copy from a peer: its installation checks the consent it holds)
    consent = covering_consent(referral.case, referral.recipient_organization_id, cross_border=referral.cross_border)
    if consent is None:
        raise Conflict(
            _l(
                "The person's consent no longer covers this referral (withdrawn, or not for this recipient). "
                "Record the person's consent again, or withdraw the referral."
            )
        )
    referral.consent_id = consent.id


def _prepare_sending(referral: Referral, action: str, now: datetime) -> dict[str, Any]:
    if action == "reopen" and _open_referral_exists(referral.case_id, referral.service_id, other_than=referral.id):
        raise Conflict(_l("This case already has an open referral to this service."))
    state = db.session.get(MemberState, referral.member_state_code)
    assert state is not None
    due_at = response_deadline(now, referral.urgency, state)
    _start_stage(referral, now, due_at)
    return {"due_at": due_at.isoformat(timespec="minutes")}


def _start_stage(referral: Referral, now: datetime, due_at: datetime) -> None:
    referral.sent_at = now
    referral.due_at = due_at
    referral.acknowledged_at = referral.accepted_at = None
    referral.ended_at = referral.reminded_at = referral.escalated_at = None
    referral.decline_reason = None
    referral.decline_note = None
    referral.decline_note_language = None


def _prepare_focal_point_stage(referral: Referral, action: str, now: datetime) -> dict[str, Any]:
    """Into the hands of the sending focal point (submit, resubmit) or of the receiving one
    (approve, forward): that focal point's country's deadline starts."""
    if action in ("resubmit", "forward") and _open_referral_exists(
        referral.case_id, referral.service_id, other_than=referral.id
    ):
        raise Conflict(_l("This case already has an open referral to this service."))
    to_receiving = action in ("approve", "forward")
    country = referral.member_state_code if to_receiving else referral.origin_state_code
    state = db.session.get(MemberState, country)
    assert state is not None
    _start_stage(referral, now, focal_point_deadline(now, referral.urgency, state))
    referral.routed_at = None
    if action in ("submit", "resubmit", "forward"):
        referral.submitted_at = now
        referral.return_note = None
        referral.return_note_language = None
    referral.approved_at = now if to_receiving else None
    return {"due_at": referral.due_at.isoformat(timespec="minutes") if referral.due_at else None}


def _prepare_return(referral: Referral, answer: Answer, now: datetime, language: str | None) -> dict[str, Any]:
    note = answer.note.strip()
    if not note:
        raise FieldError("note", _l("Say what the sender should change."))
    if len(note) > MAX_TEXT:
        raise FieldError("note", _l("Use at most 2000 characters."))
    referral.return_note = note
    referral.return_note_language = language
    referral.sent_at = referral.due_at = referral.reminded_at = None
    return {}


def _prepare_routing(referral: Referral, answer: Answer, now: datetime) -> dict[str, Any]:
    """The receiving focal point confirms the service or chooses another in its country."""
    service = db.session.execute(
        select(Service).options(joinedload(Service.organization)).where(Service.id == (answer.service_id or ""))
    ).scalar_one_or_none()
    if service is None or service.member_state_code != referral.member_state_code:
        raise FieldError("service_id", _l("Choose a service in your country."))
    if not (service.active and service.organization.active) or service.organization.agency_id is None:
        raise FieldError("service_id", _l("This service does not receive referrals through this system now."))
    if not _routable_under_basis(referral, service):
        raise FieldError(
            "service_id",
            _l("This referral was made under the child-protection exception: route it to a child-protection service."),
        )
    if _open_referral_exists(referral.case_id, service.id, other_than=referral.id):
        raise FieldError("service_id", _l("This case already has an open referral to this service."))
    previous_service = referral.service_id
    referral.service = service
    referral.service_id = service.id
    referral.recipient_organization_id = service.organization_id
    referral.recipient_agency_id = service.organization.agency_id
    state = db.session.get(MemberState, referral.member_state_code)
    assert state is not None
    _start_stage(referral, now, response_deadline(now, referral.urgency, state))
    referral.routed_at = now
    return {
        "service": service.id,
        "changed_service": service.id != previous_service,
        "due_at": referral.due_at.isoformat(timespec="minutes") if referral.due_at else None,
    }


def _routable_under_basis(referral: Referral, service: Service) -> bool:
    """The child-protection exception covers a child-protection service only, wherever the
    receiving focal point routes the referral."""
    return referral.legal_basis != LegalBasis.CHILD_PROTECTION or service.service_type == ServiceType.CHILD_PROTECTION


def _prepare_decline(referral: Referral, answer: Answer, language: str | None) -> dict[str, Any]:
    if answer.decline_reason is None:
        raise FieldError("decline_reason", _l("Choose why the referral is declined."))
    note = answer.note.strip()
    if answer.decline_reason == DeclineReason.OTHER and not note:
        raise FieldError("note", _l("Explain the reason in a few words."))
    if len(note) > MAX_TEXT:
        raise FieldError("note", _l("Use at most 2000 characters."))
    referral.decline_reason = answer.decline_reason
    referral.decline_note = note or None
    referral.decline_note_language = language if note else None
    return {"reason": answer.decline_reason.value}


def _prepare_completion(referral: Referral, answer: Answer, language: str | None) -> dict[str, Any]:
    if answer.outcome is None:
        raise FieldError("outcome", _l("Choose the outcome."))
    delivered = answer.services_delivered.strip()
    if answer.outcome == Outcome.GOT_HELP and not delivered:
        raise FieldError("services_delivered", _l("Say which services the person received."))
    if len(delivered) > MAX_TEXT:
        raise FieldError("services_delivered", _l("Use at most 2000 characters."))
    referral.outcome = answer.outcome
    referral.services_delivered = delivered or None
    referral.services_delivered_language = language if delivered else None
    return {"outcome": answer.outcome.value}


def _recipient_staff(referral: Referral) -> list[User]:
    if referral.recipient_agency_id is None:  # routed on a peer installation
        return []
    return active_staff(referral.recipient_agency_id, Role.CASEWORKER)


def _focal_point_staff(country: str | None, *roles: Role) -> list[User]:
    agency_id = designated_focal_point(country)
    return active_staff(agency_id, *(roles or (Role.FOCAL_POINT,))) if agency_id is not None else []


def _waiting_on(referral: Referral) -> list[User]:
    """Who must act now for the deadline that runs: a focal point, or the service."""
    if referral.status == ReferralStatus.FOCAL_POINT_REVIEW:
        return _focal_point_staff(referral.origin_state_code)
    if referral.status == ReferralStatus.FOCAL_POINT_ROUTING:
        return _focal_point_staff(referral.member_state_code)
    return _recipient_staff(referral)


def _sender_supervisors(referral: Referral) -> list[User]:
    """The sender agency's supervisors; without any, the country's focal point staff (none
    here for a referral from a peer installation: the peer escalates on its side)."""
    if referral.sender_agency_id is None or referral.case is None:
        return []
    supervisors = active_staff(referral.sender_agency_id, Role.SUPERVISOR)
    if supervisors:
        return supervisors
    state = db.session.get(MemberState, referral.case.member_state_code)
    if state is None or state.focal_point_agency_id is None:
        return []
    return active_staff(state.focal_point_agency_id, Role.SUPERVISOR, Role.FOCAL_POINT)


def _sender(referral: Referral) -> list[User]:
    """The officer who made the referral (none here when a peer installation sent it)."""
    user = referral.sender_user
    return [user] if user is not None and user.active else []


def _notify(referral: Referral, action: str, previous: ReferralStatus, now: datetime) -> None:
    sender = _sender(referral)
    if referral.cross_border and _notify_cross_border(referral, action, previous, sender):
        return
    if action == "send" or (action == "reopen" and previous != ReferralStatus.COMPLETED):
        notify(_recipient_staff(referral), "referral.received", referral=referral)
    elif action == "reopen":
        notify(sender, "referral.reopened", referral=referral)
    elif action in ("acknowledge", "accept", "decline", "start", "complete"):
        notify(sender, f"referral.{action}", referral=referral)
    elif action == "withdraw":
        notify(_recipient_staff(referral), "referral.withdrawn", referral=referral)
    elif action == "expire":
        notify(sender + _recipient_staff(referral), "referral.expired", referral=referral)
        _escalate(referral, _sender_supervisors(referral))


def _notify_cross_border(referral: Referral, action: str, previous: ReferralStatus, sender: list[User]) -> bool:
    """The focal points' part of a cross-border referral's notifications; False when the
    domestic rules apply (the service's own answers, which the sender is told of)."""
    sending_fp = _focal_point_staff(referral.origin_state_code)
    receiving_fp = _focal_point_staff(referral.member_state_code)
    if action in ("submit", "resubmit"):
        notify(sending_fp, "referral.for_review", referral=referral)
    elif action in ("approve", "forward"):
        notify(receiving_fp, "referral.for_routing", referral=referral)
        if action == "approve":
            notify(sender, "referral.approved", referral=referral)
    elif action == "return":
        notify(sender, "referral.returned", referral=referral)
    elif action == "route":
        notify(_recipient_staff(referral), "referral.received", referral=referral)
        notify(sender + sending_fp, "referral.routed", referral=referral)
    elif action == "decline" and previous == ReferralStatus.FOCAL_POINT_ROUTING:
        notify(sender + sending_fp, "referral.decline", referral=referral)
    elif action == "withdraw":
        _tell_withdrawn(referral, previous, sending_fp, receiving_fp)
    elif action in ("accept", "decline", "complete"):
        # The service's answer: the sender as at home, and both focal points follow.
        notify(sender + sending_fp + receiving_fp, f"referral.{action}", referral=referral)
    elif action == "expire":
        _tell_expired(referral, previous, sender, receiving_fp)
    else:
        return False
    return True


def _tell_withdrawn(
    referral: Referral, previous: ReferralStatus, sending_fp: list[User], receiving_fp: list[User]
) -> None:
    """Whoever has had it in hand is told: never a service it was not routed to."""
    told = sending_fp if previous == ReferralStatus.FOCAL_POINT_REVIEW else []
    if referral.approved_at is not None:
        told = told + receiving_fp
    if referral.routed_at is not None:
        told = told + _recipient_staff(referral)
    notify(told, "referral.withdrawn", referral=referral)


def _tell_expired(referral: Referral, previous: ReferralStatus, sender: list[User], receiving_fp: list[User]) -> None:
    """Whoever let the deadline pass is told, with the sender; both sides' supervisors escalate."""
    if previous in AT_FOCAL_POINT:
        stuck = (
            referral.origin_state_code if previous == ReferralStatus.FOCAL_POINT_REVIEW else referral.member_state_code
        )
        told = _focal_point_staff(stuck)
    else:
        stuck, told = referral.member_state_code, _recipient_staff(referral) + receiving_fp
    notify(sender + told, "referral.expired", referral=referral)
    _escalate(referral, _sender_supervisors(referral) + _focal_point_staff(stuck, Role.SUPERVISOR))


def _escalate(referral: Referral, users: list[User]) -> None:
    escalate_to = list({u.id: u for u in users}.values())
    notify(escalate_to, "referral.escalated", referral=referral)
    record(
        "referral.escalated",
        actor=None,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        member_state_code=_country_of_case(referral),
        details={"to": [u.id for u in escalate_to]},
    )


def _country_of_case(referral: Referral) -> str:
    """Whose audit trail a referral's entries belong to: the case's country, or ours for a
    copy from a peer installation."""
    return referral.case.member_state_code if referral.case is not None else referral.member_state_code


def expire(referral: Referral, *, now: datetime) -> None:
    transition(None, referral, "expire", version=referral.version, now=now)


def remind(referral: Referral, *, now: datetime) -> None:
    before = _tracked(referral)
    referral.reminded_at = now
    db.session.flush()
    notify(_waiting_on(referral), "referral.due_soon", referral=referral)
    record(
        "referral.reminded",
        actor=None,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        member_state_code=_country_of_case(referral),
        details={"changes": field_changes(before, _tracked(referral), personal=PERSONAL_FIELDS)},
    )


# -- reading ---------------------------------------------------------------------------


def history(referral: Referral) -> list[ReferralEvent]:
    return list(
        db.session.execute(
            select(ReferralEvent)
            .options(joinedload(ReferralEvent.actor))
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        ).scalars()
    )


def response_times(referral: Referral) -> dict[str, timedelta | None]:
    """Time from sending to acknowledgement and to acceptance (of the latest sending)."""
    sent = referral.sent_at

    def since_sent(moment: datetime | None) -> timedelta | None:
        return moment - sent if sent and moment and moment >= sent else None

    return {"acknowledge": since_sent(referral.acknowledged_at), "accept": since_sent(referral.accepted_at)}


def get_visible(actor: User, referral_id: str) -> tuple[Referral, Side]:
    """The referral and the side the actor is on; NotFound when on neither."""
    referral = db.session.execute(
        select(Referral)
        .options(
            joinedload(Referral.case).joinedload(Case.person),
            joinedload(Referral.service).joinedload(Service.organization),
            joinedload(Referral.sender_agency),
            joinedload(Referral.sender_user),
        )
        .where(Referral.id == referral_id)
    ).scalar_one_or_none()
    if referral is None:
        raise NotFound()
    if is_sending_focal_point(actor, referral):
        return referral, Side.SENDING_FOCAL_POINT
    if is_sender(actor, referral):
        return referral, Side.SENDER
    if is_receiving_focal_point(actor, referral):
        return referral, Side.RECEIVING_FOCAL_POINT
    if is_recipient(actor, referral):
        return referral, Side.RECIPIENT
    raise NotFound()


# -- identification on request (pseudonymised cross-border referrals) ---------------------


def request_identity(actor: User, referral: Referral, reason: str, *, version: int) -> None:
    """The receiving side asks the sender for the person's identification details."""
    if not (is_receiving_focal_point(actor, referral) or is_recipient(actor, referral)):
        raise PermissionDenied()
    if referral.version != version:
        raise Conflict()
    if not identity_requestable(referral):
        raise Conflict(_l("Identification details cannot be requested now. Reload the page."))
    text = reason.strip()
    if not text:
        raise FieldError("reason", _l("Say why the service needs the person's identification details."))
    if len(text) > MAX_TEXT:
        raise FieldError("reason", _l("Use at most 2000 characters."))
    side = Side.RECEIVING_FOCAL_POINT if is_receiving_focal_point(actor, referral) else Side.RECIPIENT
    now = utcnow()
    _ask_for_identity(actor, referral, text, actor.preferred_language, side, now=now)
    if referral.peer_side == PEER_SENDING:
        federated.send_update(referral, "identity_requested", now)


def identity_requestable(referral: Referral) -> bool:
    return (
        referral.pseudonymised
        and referral.status not in ENDED_STATUSES
        and referral.identity_decision != IdentityDecision.RELEASED
        and not identity_pending(referral)
    )


def identity_pending(referral: Referral) -> bool:
    return referral.identity_requested_at is not None and referral.identity_decision is None


def decide_identity(actor: User, referral: Referral, *, release: bool, version: int) -> None:
    """The sending side releases the identification details, or does not."""
    if not is_sender(actor, referral):
        raise PermissionDenied()
    if referral.version != version:
        raise Conflict()
    if not identity_pending(referral):
        raise Conflict(_l("No request for identification details is waiting. Reload the page."))
    side = Side.SENDING_FOCAL_POINT if is_sending_focal_point(actor, referral) else Side.SENDER
    now = utcnow()
    action = _answer_identity(actor, referral, release=release, side=side, now=now)
    if referral.peer_side == PEER_RECEIVING:
        federated.send_update(referral, action, now)


def identity_requested_by_peer(referral: Referral, reason: str, language: str | None, *, now: datetime) -> None:
    """The peer's receiving side asks for the identification details (from its receipt)."""
    if not identity_requestable(referral):
        raise Conflict()
    _ask_for_identity(None, referral, reason, language, Side.RECEIVING_FOCAL_POINT, now=now)


def identity_decided_by_peer(referral: Referral, details: dict[str, str] | None, *, now: datetime) -> None:
    """The peer's sending side releases the identification details (``details``) or not."""
    if not identity_pending(referral):
        raise Conflict()
    if details is not None:
        referral.shared_snapshot = json.dumps(
            {**json.loads(referral.shared_snapshot or "{}"), **details}, sort_keys=True
        )
    _answer_identity(None, referral, release=details is not None, side=Side.SENDING_FOCAL_POINT, now=now)


def _ask_for_identity(
    actor: User | None, referral: Referral, reason: str, language: str | None, side: Side, *, now: datetime
) -> None:
    """Record the request (made here, or on the peer: ``actor`` None); the sending side is told."""
    before = _identity_fields(referral)
    referral.identity_requested_at = now
    referral.identity_request = reason
    referral.identity_request_language = language
    referral.identity_decision = None
    referral.identity_decided_at = None
    _identity_event(actor, referral, "identity_requested", side, before=before, now=now)
    notify(
        _sender(referral) + _focal_point_staff(referral.origin_state_code),
        "referral.identity_requested",
        referral=referral,
    )


def _answer_identity(actor: User | None, referral: Referral, *, release: bool, side: Side, now: datetime) -> str:
    """Record the answer (made here, or on the peer: ``actor`` None); the receiving side
    here is told (none when a peer routes the referral). Returns the history's action."""
    before = _identity_fields(referral)
    referral.identity_decision = IdentityDecision.RELEASED if release else IdentityDecision.REFUSED
    referral.identity_decided_at = now
    action = "identity_released" if release else "identity_refused"
    _identity_event(actor, referral, action, side, before=before, now=now)
    if referral.peer_side != PEER_RECEIVING:
        told = _focal_point_staff(referral.member_state_code)
        if referral.routed_at is not None:
            told += _recipient_staff(referral)
        notify(told, f"referral.{action}", referral=referral)
    return action


def _identity_fields(referral: Referral) -> dict[str, Any]:
    return {
        "identity_requested_at": referral.identity_requested_at,
        "identity_request": referral.identity_request,
        "identity_decision": referral.identity_decision,
    }


def _identity_event(
    actor: User | None, referral: Referral, action: str, side: Side, *, before: dict[str, Any], now: datetime
) -> None:
    """Recorded and in the history; ``actor`` None: applied from a peer's receipt."""
    changes = field_changes(before, _identity_fields(referral), personal=("identity_request",))
    try:
        db.session.flush()  # UPDATE ... WHERE version = read version
    except StaleDataError:
        raise Conflict() from None
    record(
        f"referral.{action}",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        details={"side": side.value, "changes": changes},
    )
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            at=now,
            actor_id=actor.id if actor else None,
            side=side.value,
            action=action,
            from_status=referral.status.value,
            to_status=referral.status.value,
            details={} if actor else {"peer": referral.peer_id},
        )
    )
    db.session.flush()


def record_refused(
    actor: User, action: str, field: str, *, case_id: str | None, referral_id: str | None = None
) -> None:
    """Bad input refused (nothing changed): which action and which field, codes only.
    The caller has rolled back the attempt and commits this entry."""
    record(
        "referral.refused",
        actor=actor,
        object_type="referral",
        object_id=referral_id,
        case_id=case_id,
        details={"attempted": action, "field": field},
    )


def record_form_viewed(actor: User, case: Case, suggested: list[str]) -> None:
    """The referral form shows the case and services ranked by the person's needs."""
    record("referral.form_viewed", actor=actor, object_type="case", object_id=case.id, details={"suggested": suggested})


def record_viewed(actor: User, referral: Referral, side: Side) -> None:
    """A referral's page without the shared case data (whose reading ``sharing.shared_case``
    records): the purpose, the history and the answer are still about the person."""
    record(
        "referral.viewed",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        details={"side": side.value},
    )


LIST_LIMIT = 200


@dataclass
class Inbox:
    waiting: list[Referral]  # awaiting a decision, the nearest deadline (or overdue) first
    active: list[Referral]  # accepted or in progress
    ended: list[Referral]  # ended within the grace period, newest first


def inbox(actor: User, *, now: datetime, grace: timedelta) -> Inbox:
    """Three indexed reads, however many referrals the organisation has had."""
    base = select(Referral).options(
        joinedload(Referral.service), joinedload(Referral.case), joinedload(Referral.sender_agency)
    )
    waiting = base.where(inbox_filter(actor), Referral.status.in_(AWAITING_DECISION)).order_by(Referral.due_at)
    active = base.where(
        inbox_filter(actor), Referral.status.in_((ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS))
    ).order_by(Referral.accepted_at.desc())
    ended = base.where(
        inbox_filter(actor), Referral.status.in_(ENDED_STATUSES), Referral.ended_at >= now - grace
    ).order_by(Referral.ended_at.desc())
    rows = [list(db.session.execute(q.limit(LIST_LIMIT)).scalars()) for q in (waiting, active, ended)]
    record(
        "referral.inbox_viewed",
        actor=actor,
        object_type="referral",
        details={"shown": [r.id for group in rows for r in group]},
    )
    return Inbox(*rows)


def sent(actor: User) -> list[Referral]:
    """Referrals sent from the actor's agency (frontline) or country (focal point), newest first."""
    if actor.role == Role.FOCAL_POINT:
        # The country's cases: its domestic referrals and those it sends abroad, never
        # another country's referrals coming here (the desk shows those once approved).
        country = actor.agency.member_state_code
        scope = or_(
            and_(Referral.member_state_code == country, Referral.origin_state_code.is_(None)),
            Referral.origin_state_code == country,
        )
    elif actor.role == Role.FRONTLINE:
        scope = Referral.sender_agency_id == actor.agency_id
    else:
        raise PermissionDenied()
    rows = list(
        db.session.execute(
            select(Referral)
            .options(joinedload(Referral.service), joinedload(Referral.case))
            .where(scope)
            .order_by(Referral.created_at.desc())
            .limit(LIST_LIMIT)
        ).scalars()
    )
    record("referral.list_viewed", actor=actor, object_type="referral", details={"shown": [r.id for r in rows]})
    return rows


@dataclass
class CountryCount:
    country: str
    incoming_open: int = 0
    incoming_total: int = 0
    outgoing_open: int = 0
    outgoing_total: int = 0


@dataclass
class Desk:
    waiting: list[Referral]  # for this focal point to approve or route, nearest deadline first
    overdue: list[Referral]  # cross-border referrals of this country past a deadline, at any stage
    incoming: list[Referral]  # newest first
    outgoing: list[Referral]
    counts: list[CountryCount]  # by the other country


def desk(actor: User, *, now: datetime) -> Desk:
    """The focal point's cross-border desk: six indexed reads, however many referrals."""
    if actor.role != Role.FOCAL_POINT:
        raise PermissionDenied()
    incoming_rows, outgoing_rows = incoming_filter(actor), outgoing_filter(actor)
    mine = or_(incoming_rows, outgoing_rows)
    base = select(Referral).options(
        joinedload(Referral.service), joinedload(Referral.case), joinedload(Referral.sender_agency)
    )
    waiting = base.where(
        or_(
            and_(outgoing_rows, Referral.status == ReferralStatus.FOCAL_POINT_REVIEW),
            and_(incoming_rows, Referral.status == ReferralStatus.FOCAL_POINT_ROUTING),
        )
    ).order_by(Referral.due_at)
    overdue = base.where(mine, Referral.status.in_(DEADLINE_RUNNING), Referral.due_at < now).order_by(Referral.due_at)
    incoming = base.where(incoming_rows).order_by(Referral.created_at.desc())
    outgoing = base.where(outgoing_rows).order_by(Referral.created_at.desc())
    rows = [list(db.session.execute(q.limit(LIST_LIMIT)).scalars()) for q in (waiting, overdue, incoming, outgoing)]
    counts: dict[str, CountryCount] = {}
    is_open = sql_case((Referral.status.in_(OPEN_STATUSES), 1), else_=0)
    for direction, other, condition in (
        ("incoming", Referral.origin_state_code, incoming_rows),
        ("outgoing", Referral.member_state_code, outgoing_rows),
    ):
        grouped = db.session.execute(
            select(other, func.sum(is_open), func.count()).where(condition).group_by(other)
        ).all()
        for country, open_count, total in grouped:
            row = counts.setdefault(country, CountryCount(country))
            setattr(row, f"{direction}_open", int(open_count or 0))
            setattr(row, f"{direction}_total", int(total))
    record(
        "referral.desk_viewed",
        actor=actor,
        object_type="referral",
        details={"shown": sorted({r.id for group in rows for r in group})},
    )
    waiting_list, overdue_list, incoming_list, outgoing_list = rows
    return Desk(
        waiting=waiting_list,
        overdue=overdue_list,
        incoming=incoming_list,
        outgoing=outgoing_list,
        counts=sorted(counts.values(), key=lambda c: c.country),
    )


ROUTING_CHOICES = 100


def routing_choices(referral: Referral) -> list[Suggestion]:
    """Services of the receiving country for its focal point to route to, best first; the
    sender's choice is always among them while it can still receive referrals (from a peer
    installation: services of the kind asked for first)."""
    if referral.case is not None:
        found = suggestions_for(referral.case, country=referral.member_state_code, limit=ROUTING_CHOICES)
    else:
        found = suggest(_needs_from_peer(referral), limit=ROUTING_CHOICES)
    suggestions = [s for s in found if _routable_under_basis(referral, s.service)]
    chosen = [s for s in suggestions if s.service.id == referral.service_id]
    return chosen + [s for s in suggestions if s.service.id != referral.service_id]


def _needs_from_peer(referral: Referral) -> Needs:
    shared = from_snapshot(referral)
    wanted = [t for t in (referral.service_type, *BASELINE) if t is not None]
    return Needs(
        member_state_code=referral.member_state_code,
        service_types=tuple(dict.fromkeys(wanted)),
        languages=tuple(shared.languages),
        emergency=referral.urgency == Urgency.EMERGENCY,
    )


def of_case(case: Case) -> list[Referral]:
    return list(
        db.session.execute(
            select(Referral)
            .options(joinedload(Referral.service).joinedload(Service.organization))
            .where(Referral.case_id == case.id)
            .order_by(Referral.created_at.desc())
        ).scalars()
    )
