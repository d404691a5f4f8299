"""Recording and withdrawing consent. Only staff who work on the case may do either."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.services import FieldError
from app.audit.services import field_changes, record
from app.cases.models import Case, CaseEvent
from app.cases.states import case_worker
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.directory.models import Organization
from app.extensions import db
from app.privacy.models import Consent, GivenBy


@dataclass
class ConsentData:
    given_by: GivenBy
    given_on: date
    language: str
    assistance_referral: bool
    data_sharing: bool
    cross_border: bool
    explained: str
    recipients: str
    organization_ids: list[str] = field(default_factory=list)


def consents_for(case: Case) -> list[Consent]:
    return list(
        db.session.execute(
            select(Consent)
            .options(joinedload(Consent.recorded_by))
            .where(Consent.case_id == case.id)
            .order_by(Consent.recorded_at)
        ).scalars()
    )


def record_form_viewed(actor: User, case: Case) -> None:
    """The consent form shows the case (its reference, whether the person is a child)."""
    record("consent.form_viewed", actor=actor, object_type="case", object_id=case.id)


def record_consent(actor: User, case: Case, data: ConsentData) -> Consent:
    if not case_worker(actor, case):
        raise PermissionDenied()
    if data.given_on > utcnow().date():
        raise FieldError("given_on", _l("The date cannot be in the future."))
    if not (data.assistance_referral or data.data_sharing or data.cross_border):
        raise FieldError("assistance_referral", _l("Choose at least one purpose the person agreed to."))
    if data.data_sharing and not (data.recipients.strip() or data.organization_ids):
        raise FieldError("recipients", _l("Name who the data may be shared with."))
    if not data.data_sharing and data.organization_ids:
        raise FieldError("data_sharing", _l("Tick data sharing to name organisations as recipients."))
    known = set(
        db.session.execute(
            select(Organization.id).where(
                Organization.id.in_(data.organization_ids), Organization.member_state_code == case.member_state_code
            )
        ).scalars()
    )
    if known != set(data.organization_ids):
        raise FieldError("organization_ids", _l("Choose organisations from the list."))
    if case.presumed_child and data.given_by == GivenBy.PERSON:
        raise FieldError(
            "given_by",
            _l("For a child, consent is given by the guardian; record the child's views in what was explained."),
        )
    consent = Consent(
        case_id=case.id,
        person_id=case.person_id,
        given_by=data.given_by,
        given_on=data.given_on,
        language=data.language,
        assistance_referral=data.assistance_referral,
        data_sharing=data.data_sharing,
        cross_border=data.cross_border,
        organization_ids=sorted(data.organization_ids),
        recorded_by_id=actor.id,
    )
    consent.explained = data.explained.strip() or None
    consent.recipients = data.recipients.strip() or None
    db.session.add(consent)
    db.session.add(CaseEvent(case_id=case.id, actor_id=actor.id, kind="consent.recorded"))
    db.session.flush()
    record(
        "consent.recorded",
        actor=actor,
        object_type="consent",
        object_id=consent.id,
        details={
            "case": case.id,
            "given_by": data.given_by.value,
            "assistance_referral": data.assistance_referral,
            "data_sharing": data.data_sharing,
            "cross_border": data.cross_border,
            "organizations": sorted(data.organization_ids),
        },
    )
    return consent


def withdraw_consent(actor: User, case: Case, consent_id: str, *, on: date) -> int:
    """Record the withdrawal; returns how many referrals waiting abroad on it were withdrawn
    with it (``referrals.services.withdraw_where_consent_lapsed``)."""
    from app.referrals.services import withdraw_where_consent_lapsed

    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.case_id != case.id:
        raise NotFound()
    if not case_worker(actor, case):
        raise PermissionDenied()
    if consent.withdrawn_on is not None:
        raise Conflict(_l("This consent was already withdrawn."))
    if on > utcnow().date() or on < consent.given_on:
        raise FieldError("withdrawn_on", _l("The date must be between the day consent was given and today."))
    before = _withdrawal(consent)
    consent.withdrawn_on = on
    consent.withdrawn_recorded_by_id = actor.id
    db.session.add(CaseEvent(case_id=case.id, actor_id=actor.id, kind="consent.withdrawn"))
    db.session.flush()
    record(
        "consent.withdrawn",
        actor=actor,
        object_type="consent",
        object_id=consent.id,
        details={"case": case.id, "changes": field_changes(before, _withdrawal(consent))},
    )
    return len(withdraw_where_consent_lapsed(actor, case))


def _withdrawal(consent: Consent) -> dict[str, object]:
    return {
        "withdrawn_on": consent.withdrawn_on.isoformat() if consent.withdrawn_on else None,
        "withdrawn_recorded_by_id": consent.withdrawn_recorded_by_id,
    }
