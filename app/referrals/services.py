"""Referrals: create, send, answer, close; the rules of consent, area and data-sharing scope.

Services take the actor explicitly, flush and never commit. Every transition goes through
``REFERRAL_TRANSITIONS`` (app.referrals.states), which checks the side and writes the audit
entry; this module adds timestamps, history, timeline entries and notifications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
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
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.notifications.services import notify
from app.privacy.models import Consent
from app.referrals import VITAL_INTEREST
from app.referrals.deadlines import response_deadline
from app.referrals.models import Referral, ReferralEvent
from app.referrals.policies import inbox_filter, is_recipient, is_sender
from app.referrals.states import REFERRAL_TRANSITIONS, SIDE_OF_GUARD
from app.referrals.vocabulary import (
    AWAITING_DECISION,
    ENDED_STATUSES,
    OPEN_STATUSES,
    DeclineReason,
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


@dataclass
class Answer:
    """What a transition may carry besides its action."""

    decline_reason: DeclineReason | None = None
    note: str = ""
    outcome: Outcome | None = None
    services_delivered: str = ""


# -- creating --------------------------------------------------------------------------


def create(actor: User, case: Case, data: ReferralRequest) -> Referral:
    """Check every rule, then make the referral (a draft, or sent at once)."""
    if actor.role not in (Role.FRONTLINE, Role.FOCAL_POINT):
        raise PermissionDenied()
    if case.status == CaseStatus.CLOSED:
        raise Conflict(_l("The case is closed. Reopen it before referring the person."))
    service = _referrable_service(case, data.service_id)
    purpose = data.purpose.strip()
    if not purpose:
        raise FieldError("purpose", _l("Say what the person needs from this service."))
    if len(purpose) > MAX_TEXT:
        raise FieldError("purpose", _l("Use at most 2000 characters."))
    consent = _legal_basis(actor, case, service, data)
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
        status=ReferralStatus.DRAFT,
        urgency=data.urgency,
        shared_parts=sorted({p.value for p in data.shared_parts}),
        legal_basis=data.legal_basis,
        consent_id=consent.id if consent else None,
    )
    referral.purpose = purpose
    referral.purpose_language = actor.preferred_language
    referral.justification = data.justification.strip() or None
    referral.case = case
    referral.service = service
    db.session.add(referral)
    _flush_unique(referral)
    record(
        "referral.created",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        details={
            "case": case.id,
            "service": service.id,
            "urgency": data.urgency.value,
            "shared_parts": referral.shared_parts,
            "legal_basis": data.legal_basis.value,
            "consent": referral.consent_id,
        },
    )
    if data.legal_basis != LegalBasis.CONSENT:
        record(
            "referral.consent_exception",
            actor=actor,
            object_type="referral",
            object_id=referral.id,
            details={"case": case.id, "basis": data.legal_basis.value, "service_type": service.service_type.value},
        )
    if data.send:
        transition(actor, referral, "send", version=referral.version)
    return referral


def _referrable_service(case: Case, service_id: str) -> Service:
    service = db.session.execute(
        select(Service).options(joinedload(Service.organization)).where(Service.id == service_id)
    ).scalar_one_or_none()
    if service is None:
        raise FieldError("service_id", _l("Choose a service from the suggestions or the directory."))
    if not (service.active and service.organization.active):
        raise FieldError("service_id", _l("This service is not active. Choose another one."))
    if service.member_state_code != case.member_state_code:
        raise FieldError(
            "service_id",
            _l("This service is in another country. Cross-border referrals go through the national focal points."),
        )
    if service.organization.agency_id is None:
        raise FieldError(
            "service_id", _l("This organisation does not receive referrals through this system. Contact it directly.")
        )
    return service


def covering_consent(case: Case, organization_id: str) -> Consent | None:
    """The newest active consent that covers a referral with data sharing to this organisation."""
    consents = db.session.execute(
        select(Consent)
        .where(
            Consent.case_id == case.id,
            Consent.withdrawn_on.is_(None),
            Consent.assistance_referral.is_(True),
            Consent.data_sharing.is_(True),
        )
        .order_by(Consent.recorded_at.desc())
    ).scalars()
    return next((c for c in consents if organization_id in (c.organization_ids or [])), None)


def _legal_basis(actor: User, case: Case, service: Service, data: ReferralRequest) -> Consent | None:
    if data.legal_basis == LegalBasis.CONSENT:
        consent = covering_consent(case, service.organization_id)
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
        if not (case.presumed_child and service.service_type == ServiceType.CHILD_PROTECTION):
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


def _open_referral_exists(case_id: str, service_id: str, *, other_than: str | None = None) -> bool:
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
) -> Referral:
    """Apply one row of the transition table, with optimistic locking on ``version``."""
    if referral.version != version:
        raise Conflict()
    answer = answer or Answer()
    now = now or utcnow()
    row = REFERRAL_TRANSITIONS.find(referral.status, action)
    if row is None:
        raise Conflict(_l("This action is not possible in the referral's current state. Reload the page."))
    if not row.allowed(actor, referral):
        raise PermissionDenied()
    before = _tracked(referral)
    details = _prepare(referral, action, answer, now, actor.preferred_language if actor else None)
    if row.target in ENDED_STATUSES:
        referral.ended_at = now
    previous = referral.status
    changes = field_changes(before, _tracked(referral), personal=PERSONAL_FIELDS)
    try:
        # The audit entry flushes the referral's UPDATE ... WHERE version = read version:
        # when someone else changed it meanwhile, no row matches and nothing is written.
        apply_transition(REFERRAL_TRANSITIONS, referral, action, actor=actor, details={**details, "changes": changes})
    except StaleDataError:
        raise Conflict() from None
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            at=now,
            actor_id=actor.id if actor else None,
            side=SIDE_OF_GUARD[row.allowed].value,
            action=action,
            from_status=previous.value,
            to_status=referral.status.value,
            details=details,
        )
    )
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
    return referral


# Fields a transition may set besides the status. The free texts are about the person:
# masked in the audit trail's before/after.
TRACKED_FIELDS = (
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
PERSONAL_FIELDS = ("decline_note", "services_delivered")


def _tracked(referral: Referral) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TRACKED_FIELDS:
        value = getattr(referral, name)
        values[name] = value.isoformat(timespec="minutes") if isinstance(value, datetime) else value
    return values


def _prepare(referral: Referral, action: str, answer: Answer, now: datetime, language: str | None) -> dict[str, Any]:
    """Check what the action needs and set its fields; returns the audit details (codes only).
    ``language``: the writer's, kept with the free text they write."""
    if action in ("send", "reopen"):
        return _prepare_sending(referral, action, now)
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


def _prepare_sending(referral: Referral, action: str, now: datetime) -> dict[str, Any]:
    if action == "reopen" and _open_referral_exists(referral.case_id, referral.service_id, other_than=referral.id):
        raise Conflict(_l("This case already has an open referral to this service."))
    state = db.session.get(MemberState, referral.member_state_code)
    assert state is not None
    referral.sent_at = now
    referral.due_at = response_deadline(now, referral.urgency, state)
    referral.acknowledged_at = referral.accepted_at = None
    referral.ended_at = referral.reminded_at = referral.escalated_at = None
    referral.decline_reason = None
    referral.decline_note = None
    referral.decline_note_language = None
    return {"due_at": referral.due_at.isoformat(timespec="minutes")}


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
    return active_staff(referral.recipient_agency_id, Role.CASEWORKER)


def _sender_supervisors(referral: Referral) -> list[User]:
    """The sender agency's supervisors; without any, the country's focal point staff."""
    supervisors = active_staff(referral.sender_agency_id, Role.SUPERVISOR)
    if supervisors:
        return supervisors
    state = db.session.get(MemberState, referral.case.member_state_code)
    if state is None or state.focal_point_agency_id is None:
        return []
    return active_staff(state.focal_point_agency_id, Role.SUPERVISOR, Role.FOCAL_POINT)


def _notify(referral: Referral, action: str, previous: ReferralStatus, now: datetime) -> None:
    sender = [referral.sender_user] if referral.sender_user.active else []
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
        escalate_to = _sender_supervisors(referral)
        notify(escalate_to, "referral.escalated", referral=referral)
        record(
            "referral.escalated",
            actor=None,
            object_type="referral",
            object_id=referral.id,
            case_id=referral.case_id,
            member_state_code=referral.case.member_state_code,
            details={"to": [u.id for u in escalate_to]},
        )


def expire(referral: Referral, *, now: datetime) -> None:
    transition(None, referral, "expire", version=referral.version, now=now)


def remind(referral: Referral, *, now: datetime) -> None:
    before = _tracked(referral)
    referral.reminded_at = now
    db.session.flush()
    notify(_recipient_staff(referral), "referral.due_soon", referral=referral)
    record(
        "referral.reminded",
        actor=None,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        member_state_code=referral.case.member_state_code,
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
    if referral is not None and is_sender(actor, referral):
        return referral, Side.SENDER
    if referral is not None and is_recipient(actor, referral):
        return referral, Side.RECIPIENT
    raise NotFound()


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
        scope = Referral.member_state_code == actor.agency.member_state_code
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


def of_case(case: Case) -> list[Referral]:
    return list(
        db.session.execute(
            select(Referral)
            .options(joinedload(Referral.service).joinedload(Service.organization))
            .where(Referral.case_id == case.id)
            .order_by(Referral.created_at.desc())
        ).scalars()
    )
