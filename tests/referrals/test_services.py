"""Referral rules: consent and its exceptions, area, active service, one open referral per
service, decline reasons, outcomes, deadlines, expiry and escalation, history and audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.accounts.models import MemberState
from app.accounts.roles import AgencyKind, Role
from app.accounts.services import FieldError
from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.core.errors import Conflict
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.notifications.models import Notification
from app.referrals import services
from app.referrals.deadlines import check_deadlines, response_deadline
from app.referrals.models import ReferralEvent
from app.referrals.services import Answer, ReferralRequest
from app.referrals.vocabulary import DeclineReason, LegalBasis, Outcome, ReferralStatus, SharedPart, Urgency
from tests.factories import (
    make_agency,
    make_case,
    make_consent,
    make_organization,
    make_referral,
    make_service,
    make_user,
)


@pytest.fixture
def world(ctx):
    police = make_agency("FR", AgencyKind.POLICE)
    shelter = make_agency("FR", AgencyKind.SHELTER)
    organization = make_organization(shelter)
    return {
        "police": police,
        "sender": make_user(Role.FRONTLINE, police),
        "recipient": make_user(Role.CASEWORKER, shelter),
        "supervisor": make_user(Role.SUPERVISOR, police),
        "focal": make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT)),
        "case": make_case(police),
        "organization": organization,
        "service": make_service(organization),
    }


def request_for(service, **overrides) -> ReferralRequest:
    values = {
        "service_id": service.id,
        "purpose": "A bed tonight",
        "urgency": Urgency.EMERGENCY,
        "shared_parts": [SharedPart.NEEDS],
    }
    values.update(overrides)
    return ReferralRequest(**values)


def actions(entries: list[AuditEntry]) -> list[str]:
    return [e.action for e in entries]


def audit() -> list[AuditEntry]:
    return list(db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_refused_without_consent(world) -> None:
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(world["service"]))
    assert error.value.field == "legal_basis"


def test_consent_must_name_the_organisation(world) -> None:
    make_consent(world["case"], world["sender"], [make_organization(country="FR")])
    with pytest.raises(FieldError):
        services.create(world["sender"], world["case"], request_for(world["service"]))


def test_withdrawn_consent_does_not_cover(world) -> None:
    consent = make_consent(world["case"], world["sender"], [world["organization"]])
    consent.withdrawn_on = consent.given_on
    consent.withdrawn_recorded_by_id = world["sender"].id
    db.session.commit()
    with pytest.raises(FieldError):
        services.create(world["sender"], world["case"], request_for(world["service"]))


def test_sent_with_consent_notifies_and_audits(world) -> None:
    make_consent(world["case"], world["sender"], [world["organization"]])
    referral = services.create(world["sender"], world["case"], request_for(world["service"]))
    db.session.commit()
    assert referral.status == ReferralStatus.SENT
    assert referral.consent_id is not None
    assert referral.shared_parts == ["needs"]
    assert {"referral.created", "referral.send"} <= set(actions(audit()))
    notes = db.session.execute(select(Notification)).scalars().all()
    assert [(n.user_id, n.kind) for n in notes] == [(world["recipient"].id, "referral.received")]


def test_child_protection_exception_only_for_a_child_to_child_protection(world) -> None:
    child_case = make_case(world["police"], presumed_child=True)
    child_service = make_service(world["organization"], service_type=ServiceType.CHILD_PROTECTION)
    basis = {"legal_basis": LegalBasis.CHILD_PROTECTION}
    with pytest.raises(FieldError):
        services.create(world["sender"], world["case"], request_for(child_service, **basis))  # an adult
    with pytest.raises(FieldError):
        services.create(world["sender"], child_case, request_for(world["service"], **basis))  # not child protection
    referral = services.create(world["sender"], child_case, request_for(child_service, **basis))
    db.session.commit()
    assert referral.status == ReferralStatus.SENT
    assert "referral.consent_exception" in actions(audit())


def test_vital_interest_needs_the_role_and_a_justification(world) -> None:
    basis = {"legal_basis": LegalBasis.VITAL_INTEREST, "justification": "Unconscious, needs a hospital now."}
    with pytest.raises(FieldError):  # frontline may not
        services.create(world["sender"], world["case"], request_for(world["service"], **basis))
    with pytest.raises(FieldError) as error:
        services.create(
            world["focal"], world["case"], request_for(world["service"], legal_basis=LegalBasis.VITAL_INTEREST)
        )
    assert error.value.field == "justification"
    referral = services.create(world["focal"], world["case"], request_for(world["service"], **basis))
    db.session.commit()
    assert referral.justification == basis["justification"]
    entry = next(e for e in audit() if e.action == "referral.consent_exception")
    assert entry.details["basis"] == "vital_interest"
    assert "Unconscious" not in str(entry.details)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"active": False}, "service_id"),
        ({"member_state_code": "DE"}, "service_id"),
    ],
)
def test_inactive_or_foreign_service_is_refused(world, change, field) -> None:
    service = make_service(world["organization"], **change)
    make_consent(world["case"], world["sender"], [world["organization"]])
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(service))
    assert error.value.field == field


def test_organisation_not_on_the_system_is_refused(world) -> None:
    outside = make_organization(country="FR")
    make_consent(world["case"], world["sender"], [outside])
    with pytest.raises(FieldError):
        services.create(world["sender"], world["case"], request_for(make_service(outside)))


def test_second_open_referral_to_the_same_service_is_refused(world) -> None:
    make_referral(world["sender"], world["case"], world["service"])
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(world["service"]))
    assert error.value.field == "service_id"


def test_reopen_refused_while_another_is_open(world) -> None:
    first = make_referral(world["sender"], world["case"], world["service"])
    services.transition(world["sender"], first, "withdraw", version=first.version)
    db.session.commit()
    make_referral(world["sender"], world["case"], world["service"])
    with pytest.raises(Conflict):
        services.transition(world["sender"], first, "reopen", version=first.version)


def test_decline_needs_a_reason_and_other_needs_a_note(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    with pytest.raises(FieldError):
        services.transition(world["recipient"], referral, "decline", version=referral.version)
    with pytest.raises(FieldError) as error:
        services.transition(
            world["recipient"],
            referral,
            "decline",
            version=referral.version,
            answer=Answer(decline_reason=DeclineReason.OTHER),
        )
    assert error.value.field == "note"
    services.transition(
        world["recipient"],
        referral,
        "decline",
        version=referral.version,
        answer=Answer(decline_reason=DeclineReason.NO_CAPACITY),
    )
    db.session.commit()
    assert referral.status == ReferralStatus.DECLINED and referral.ended_at is not None
    kinds = db.session.execute(select(Notification.kind).where(Notification.user_id == world["sender"].id)).scalars()
    assert "referral.decline" in list(kinds)


def test_completion_records_outcome_and_services(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    services.transition(world["recipient"], referral, "accept", version=referral.version)
    with pytest.raises(FieldError):
        services.transition(
            world["recipient"], referral, "complete", version=referral.version, answer=Answer(outcome=Outcome.GOT_HELP)
        )
    services.transition(
        world["recipient"],
        referral,
        "complete",
        version=referral.version,
        answer=Answer(outcome=Outcome.GOT_HELP, services_delivered="Two nights, medical check"),
    )
    db.session.commit()
    history = services.history(referral)
    assert [(e.side, e.action) for e in history] == [
        ("sender", "send"),
        ("recipient", "accept"),
        ("recipient", "complete"),
    ]
    times = services.response_times(referral)
    assert times["accept"] is not None and times["acknowledge"] == times["accept"]
    entry = next(e for e in audit() if e.action == "referral.complete")
    assert entry.case_id == world["case"].id and entry.details["outcome"] == "got_help"
    changes = entry.details["changes"]
    assert changes["status"] == {"from": "accepted", "to": "completed"}
    assert changes["outcome"] == {"from": None, "to": "got_help"}  # a code: shown
    assert changes["services_delivered"] == {"from": None, "to": "***"}  # free text: masked
    assert changes["ended_at"]["from"] is None and changes["ended_at"]["to"] is not None
    assert "Two nights" not in stored_payloads()


def test_decline_note_is_masked_in_the_trail(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    services.transition(
        world["recipient"],
        referral,
        "decline",
        version=referral.version,
        answer=Answer(decline_reason=DeclineReason.OTHER, note="Her trafficker knows our address"),
    )
    db.session.commit()
    entry = next(e for e in audit() if e.action == "referral.decline")
    assert entry.details["reason"] == "other"
    assert entry.details["changes"]["decline_reason"] == {"from": None, "to": "other"}
    assert entry.details["changes"]["decline_note"] == {"from": None, "to": "***"}
    assert "trafficker knows" not in stored_payloads()
    # Sending it again clears the answer: the trail says so, still without the text.
    services.transition(world["sender"], referral, "reopen", version=referral.version)
    db.session.commit()
    reopened = next(e for e in audit() if e.action == "referral.reopen")
    assert reopened.details["changes"]["decline_note"] == {"from": "***", "to": None}
    assert reopened.details["changes"]["decline_reason"] == {"from": "other", "to": None}


def stored_payloads() -> str:
    with db.engine.connect() as conn:
        return " ".join(conn.execute(text("SELECT payload FROM audit_entry")).scalars())


def test_deadlines_by_urgency_use_country_settings() -> None:
    state = MemberState(
        code="FR", referral_emergency_hours=2, referral_urgent_hours=24, referral_routine_working_days=5
    )
    friday = datetime(2026, 12, 18, 15, 0)
    assert response_deadline(friday, Urgency.EMERGENCY, state) == friday + timedelta(hours=2)
    assert response_deadline(friday, Urgency.URGENT, state) == friday + timedelta(hours=24)
    # 5 working days after Fri 18 Dec 2026 in France: 21, 22, 23, 24 Dec, (25 Dec holiday), 28 Dec.
    assert response_deadline(friday, Urgency.ROUTINE, state) == datetime(2026, 12, 28, 15, 0)


def test_tick_reminds_expires_escalates_once(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"], urgency="emergency")
    assert referral.sent_at is not None and referral.due_at is not None
    soon = referral.due_at - timedelta(minutes=10)
    first = check_deadlines(soon)
    db.session.commit()
    assert first.reminded == [referral.id] and first.expired == []
    reminded = next(e for e in audit() if e.action == "referral.reminded")
    assert reminded.case_id == referral.case_id and set(reminded.details["changes"]) == {"reminded_at"}
    assert check_deadlines(soon).reminded == []
    later = referral.due_at + timedelta(minutes=1)
    result = check_deadlines(later)
    db.session.commit()
    assert result.expired == [referral.id]
    assert referral.status == ReferralStatus.EXPIRED and referral.escalated_at == later
    again = check_deadlines(later + timedelta(minutes=5))
    db.session.commit()
    assert again.expired == [] and again.reminded == []
    kinds = {
        (n.user_id, n.kind)
        for n in db.session.execute(select(Notification)).scalars()
        if n.kind in ("referral.expired", "referral.escalated", "referral.due_soon")
    }
    assert kinds == {
        (world["recipient"].id, "referral.due_soon"),
        (world["sender"].id, "referral.expired"),
        (world["recipient"].id, "referral.expired"),
        (world["supervisor"].id, "referral.escalated"),
    }
    system_events = db.session.execute(select(ReferralEvent).where(ReferralEvent.side == "system")).scalars().all()
    assert [e.action for e in system_events] == ["expire"]


def test_acknowledging_does_not_stop_the_clock(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    services.transition(world["recipient"], referral, "acknowledge", version=referral.version)
    db.session.commit()
    assert referral.due_at is not None
    assert check_deadlines(referral.due_at + timedelta(seconds=1)).expired == [referral.id]


def test_accepted_referral_does_not_expire(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    services.transition(world["recipient"], referral, "accept", version=referral.version)
    db.session.commit()
    assert check_deadlines(utcnow() + timedelta(days=30)).expired == []
