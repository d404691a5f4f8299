"""Referrals to a country served by a peer installation, in one process (issue 5): the form
asks for the kind of service, the package goes out only once the focal point approves, a
suspended peer is a clear refusal, the peer's stages run on the peer's clock, and a
package whose content is wrong is refused without changing anything. The round trip
between two installations is in tests/federation/test_referrals_between_installations.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, g
from joserfc.jwk import OKPKey
from sqlalchemy import func, select

from app.accounts.roles import AgencyKind, Role
from app.accounts.services import FieldError
from app.core.db import utcnow
from app.core.errors import Conflict
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.federation import identity, trust
from app.federation.models import FederationOutbox, FederationPeer
from app.federation.transport import NotApplicable
from app.referrals import federated, services
from app.referrals.deadlines import check_deadlines
from app.referrals.models import Referral
from app.referrals.vocabulary import ReferralStatus, SharedPart, Urgency
from tests.conftest import make_app
from tests.factories import make_agency, make_case, make_consent, make_focal_point, make_user, sign_in_directly

S = ReferralStatus


@pytest.fixture
def romania(app: Flask, database_uri: str) -> Iterator[Flask]:
    """This installation serves Romania and trusts Bulgaria's."""
    keys = identity.new_keys()
    federated_app = make_app(
        database_uri,
        FEDERATION_BASE_URL="https://referral.ro.example",
        FEDERATION_COUNTRY="RO",
        FEDERATION_SIGNING_KEY=keys["FEDERATION_SIGNING_KEY"],
        FEDERATION_ENCRYPTION_KEYS=[keys["FEDERATION_ENCRYPTION_KEYS"]],
        FEDERATION_DELIVER_AT_ONCE=False,
    )
    with federated_app.test_request_context():
        peer = trust.add_peer(None, base_url="https://referral.bg.example", country="BG")
        for curve in ("Ed25519", "X25519"):
            trust.add_key(None, peer, json.dumps(OKPKey.generate_key(curve).as_dict(private=False)))
        db.session.commit()
        yield federated_app
        db.session.rollback()


@pytest.fixture
def people(romania: Flask) -> dict[str, Any]:
    police = make_agency("RO", AgencyKind.POLICE)
    officer = make_user(Role.FRONTLINE, police)
    focal = make_focal_point("RO")
    case = make_case(police, family_name="Popescu")
    make_consent(case, officer, [], cross_border=True)
    return {"officer": officer, "focal": focal, "case": case}


def request(**fields: Any) -> services.ReferralRequest:
    values: dict[str, Any] = {
        "service_id": "",
        "country": "BG",
        "service_type": ServiceType.SAFE_ACCOMMODATION,
        "purpose": "A safe place tonight",
        "urgency": Urgency.URGENT,
        "shared_parts": [SharedPart.PROFILE, SharedPart.NEEDS],
    }
    values.update(fields)
    return services.ReferralRequest(**values)


def outbox() -> list[FederationOutbox]:
    return list(db.session.execute(select(FederationOutbox)).scalars())


def approval_refused(people: dict[str, Any], referral: Referral, message: str) -> None:
    """The focal point's approval is refused with ``message``; nothing changed, nothing queued."""
    with pytest.raises(Conflict) as refused:
        services.transition(people["focal"], referral, "approve", version=referral.version)
    assert message in str(refused.value.message)
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == S.FOCAL_POINT_REVIEW
    assert outbox() == []


def test_nothing_goes_abroad_without_consent_to_the_transfer(romania, people) -> None:
    officer = people["officer"]
    case = make_case(officer.agency)
    make_consent(case, officer, [], cross_border=False)
    with pytest.raises(FieldError) as refused:
        services.create(officer, case, request())
    assert refused.value.field == "legal_basis"
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Referral)).scalar_one() == 0


def test_the_form_offers_the_peer_country_and_asks_for_the_kind_of_service(romania, people) -> None:
    client = romania.test_client()
    sign_in_directly(client, people["officer"])
    case = people["case"]
    page = client.get(f"/referrals/new/{case.id}").get_data(as_text=True)
    assert f"/referrals/new/{case.id}?country=BG" in page
    page = client.get(f"/referrals/new/{case.id}?country=BG").get_data(as_text=True)
    assert 'id="peer-installation"' in page and 'name="service_type"' in page and 'name="service_id"' not in page

    answer = client.post(
        f"/referrals/new/{case.id}?country=BG",
        data={"purpose": "A safe place tonight", "urgency": "urgent", "legal_basis": "consent", "action": "send"},
    )
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "Choose the kind of service the person needs." in page and "A safe place tonight" in page
    assert db.session.execute(select(func.count()).select_from(Referral)).scalar_one() == 0

    answer = client.post(
        f"/referrals/new/{case.id}?country=BG",
        data={
            "service_type": "safe_accommodation",
            "purpose": "A safe place tonight",
            "urgency": "urgent",
            "shared_parts": ["profile", "needs"],
            "legal_basis": "consent",
            "action": "send",
        },
    )
    assert answer.status_code == 302
    referral = db.session.execute(select(Referral)).scalar_one()
    assert referral.status == S.FOCAL_POINT_REVIEW and referral.peer_side == "receiving"
    assert referral.service_id is None and referral.service_type == ServiceType.SAFE_ACCOMMODATION
    assert outbox() == []  # nothing travels before the focal point approves


def test_approval_queues_the_referral_package_with_the_shared_parts_only(romania, people) -> None:
    referral = services.create(people["officer"], people["case"], request(pseudonymised=True))
    db.session.commit()
    services.transition(people["focal"], referral, "approve", version=referral.version)
    db.session.commit()
    (row,) = outbox()
    assert row.kind == "referral" and row.peer.country == "BG"
    package = json.loads(row.package)
    body = package["body"]
    assert body["referral"] == referral.id and body["destination"] == "BG" and body["origin"] == "RO"
    assert body["service_type"] == "safe_accommodation" and body["purpose"]["language"] == "en"
    assert body["person"]["pseudonymised"] is True
    assert "Popescu" not in json.dumps(body)
    assert row.package_sealed != row.package  # encrypted at rest


def test_a_suspended_peer_is_a_clear_refusal_and_nothing_changes(romania, people) -> None:
    referral = services.create(people["officer"], people["case"], request())
    db.session.commit()
    peer = db.session.execute(select(FederationPeer)).scalar_one()
    trust.set_peer_active(None, peer, active=False)
    db.session.commit()
    approval_refused(people, referral, "cannot be reached")
    # And no new referral is offered to it.
    assert "BG" not in services.cross_border_countries(people["case"])


def test_the_peers_stages_run_on_the_peers_clock(romania, people) -> None:
    referral = services.create(people["officer"], people["case"], request())
    db.session.commit()
    services.transition(people["focal"], referral, "approve", version=referral.version)
    db.session.commit()
    result = check_deadlines(utcnow() + timedelta(days=30))
    assert referral.id not in result.expired and referral.id not in result.reminded
    assert db.session.get(Referral, referral.id).status == S.FOCAL_POINT_ROUTING


def test_our_focal_points_stage_still_expires_here(romania, people) -> None:
    referral = services.create(people["officer"], people["case"], request())
    db.session.commit()
    assert referral.id in check_deadlines(utcnow() + timedelta(days=30)).expired


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "referral": "6f1c0c8e-5b0e-4b53-9f59-6a3c1f2e9b11",
        "origin": "BG",
        "destination": "RO",
        "urgency": "urgent",
        "service_type": "medical",
        "legal_basis": "consent",
        "justification": None,
        "purpose": {"text": "Medical care", "language": "bg"},
        "pseudonymised": False,
        "shared_parts": ["needs", "profile"],
        "sender": "Police BG",
        "person": {"reference": "BG-2026-000001", "risk_level": "none_known", "parts": ["needs", "profile"]},
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "changes",
    [
        {"destination": "FR"},  # addressed to another country
        {"origin": "DE"},  # not the sending peer's country
        {"referral": "not-a-uuid"},
        {"urgency": "whenever"},
        {"purpose": {"text": "", "language": "bg"}},
        {"purpose": "Medical care"},  # a free text travels with its language
        {"legal_basis": "vital_interest"},  # without its justification
        {"shared_parts": ["everything"]},
        {"person": {"reference": "BG-1", "risk_level": "extreme"}},
        {"person": {"reference": "BG-1", "pseudonymised": True, "family_name": "Ivanova"}},  # a name must not travel
        {"person": {"reference": "BG-1", "address": "Sofia"}},  # nothing but the shared parts
        {"extra": 1},
    ],
)
def test_a_referral_package_with_wrong_content_is_refused_and_changes_nothing(romania, people, changes) -> None:
    peer = db.session.execute(select(FederationPeer)).scalar_one()
    with pytest.raises(NotApplicable) as refused, db.session.begin_nested():
        federated.receive_referral(peer, _body(**changes), utcnow())
    assert refused.value.code == "invalid_body"
    assert db.session.execute(select(func.count()).select_from(Referral)).scalar_one() == 0


def test_a_referral_from_the_peer_waits_at_our_focal_point(romania, people) -> None:
    peer = db.session.execute(select(FederationPeer)).scalar_one()
    federated.receive_referral(peer, _body(), utcnow())
    db.session.commit()
    copy = db.session.get(Referral, _body()["referral"])
    assert copy.status == S.FOCAL_POINT_ROUTING and copy.peer_side == "sending" and copy.case_id is None
    assert copy.reference == "BG-2026-000001" and copy.sender_label == "Police BG"
    # Our focal point sees it on the desk and on its page, with the shared parts only.
    client = romania.test_client()
    sign_in_directly(client, people["focal"])
    desk = client.get("/referrals/desk").get_data(as_text=True)
    assert "BG-2026-000001" in desk
    page = client.get(f"/referrals/{copy.id}").get_data(as_text=True)
    assert "Police BG" in page and "Route to the service" in page and 'lang="bg"' in page
    # The officer who is no party to it does not. (The test's own context holds the
    # previous signed-in user in ``g``: forget it, as a new request would.)
    g.pop("_login_user", None)
    officer = romania.test_client()
    sign_in_directly(officer, people["officer"])
    assert officer.get(f"/referrals/{copy.id}").status_code == 404
    # The same package id again would be a replay; the same referral sent again while it
    # is still waiting here is not applicable.
    with pytest.raises(NotApplicable) as refused, db.session.begin_nested():
        federated.receive_referral(peer, _body(), utcnow())
    assert refused.value.code == "not_applicable"


def test_consent_withdrawn_withdraws_the_referral_waiting_at_the_peer(romania, people) -> None:
    """Its routing happens on the peer, where this consent cannot be checked: the withdrawal
    of consent withdraws it, and the withdrawal travels; shown on the case page."""
    from app.privacy.models import Consent

    referral = services.create(people["officer"], people["case"], request())
    db.session.commit()
    services.transition(people["focal"], referral, "approve", version=referral.version)
    db.session.commit()
    consent = db.session.execute(select(Consent)).scalar_one()
    client = romania.test_client()
    sign_in_directly(client, people["officer"])
    case_id = people["case"].id
    answer = client.post(
        f"/cases/{case_id}/consent/{consent.id}/withdraw",
        data={"withdrawn_on": utcnow().date().isoformat()},
        follow_redirects=True,
    )
    assert "was withdrawn with it" in answer.get_data(as_text=True)
    assert db.session.get(Referral, referral.id).status == S.WITHDRAWN
    kinds = sorted((row.kind, json.loads(row.package)["body"].get("action")) for row in outbox())
    assert kinds == [("receipt", "withdraw"), ("referral", None)]


def test_a_consent_withdrawn_while_another_covers_changes_nothing(romania, people) -> None:
    from app.privacy import services as privacy
    from app.privacy.models import Consent

    referral = services.create(people["officer"], people["case"], request())
    db.session.commit()
    services.transition(people["focal"], referral, "approve", version=referral.version)
    first = db.session.execute(select(Consent)).scalars().first()
    make_consent(people["case"], people["officer"], [], cross_border=True)
    assert privacy.withdraw_consent(people["officer"], people["case"], first.id, on=utcnow().date()) == 0
    assert referral.status == S.FOCAL_POINT_ROUTING


def test_the_assessment_travels_as_codes_with_every_translation_of_its_indicators(romania, people) -> None:
    """The receiving side may not hold the catalogue version: the indicators' names travel
    in each language the catalogue has, and its reader sees them in theirs."""
    from datetime import datetime

    from app.cases.vocabulary import DocumentType, EncounterContext, RiskLevel
    from app.identification import records
    from app.identification.catalogue import bundled_catalogue
    from app.identification.vocabulary import ExploitationForm
    from app.referrals.sharing import from_snapshot, snapshot

    officer = people["officer"]
    indicator = "adult_labour.deceived_nature_of_job"
    data = records.IdentificationData(
        encounter_at=utcnow() - timedelta(days=1),
        encounter_country="RO",
        place="Iasi",
        context=EncounterContext.LABOUR_INSPECTION,
        interpreter_used=False,
        given_names="Ilinca",
        family_name="Munteanu",
        aliases="",
        date_of_birth=datetime(1995, 3, 2).date(),
        estimated_age=None,
        age_estimation=None,
        may_be_child=False,
        gender=None,
        citizenships=["RO"],
        languages=["ro"],
        document_type=DocumentType.NONE,
        document_number="",
        contact_details="",
        forms=[ExploitationForm.FORCED_LABOUR],
        accommodation_tonight=True,
        risk_level=RiskLevel.HIGH,
        risk_note="Watched by the employer",
        indicators={indicator: ""},
    )
    case = records.submit(officer, records.start_draft(officer), data).case
    make_consent(case, officer, [], cross_border=True)
    referral = services.create(
        officer, case, request(shared_parts=[SharedPart.PROFILE, SharedPart.NEEDS, SharedPart.ASSESSMENT])
    )
    person = snapshot(referral, utcnow().date())
    label = bundled_catalogue().indicators[indicator].label
    assert person["assessment"]["indicators"] == {indicator: dict(label.values)}
    assert person["forms"] == ["forced_labour"] and person["risk_level"] == "high"
    assert "Munteanu" not in json.dumps(person)  # identity was not among the shared parts
    copy = Referral(shared_snapshot=json.dumps(person))
    shared = from_snapshot(copy)
    assert shared.catalogue.indicators[indicator].label.in_language("bg") == label.values["bg"]
    assert shared.assessment.level == referral_level(person)


def referral_level(person: dict[str, Any]) -> Any:
    from app.identification.assessment import Level

    return Level(person["assessment"]["level"])


def test_a_referral_too_large_to_travel_is_refused_at_approval(romania, people) -> None:
    """The peer would refuse it as oversized, for good: the focal point is told at once."""
    from app.cases.models import CaseNote, NoteVisibility

    case, officer = people["case"], people["officer"]
    for _ in range(150):
        note = CaseNote(case_id=case.id, author_id=officer.id, visibility=NoteVisibility.SHAREABLE)
        note.text = "Долго описание. " * 120
        db.session.add(note)
    db.session.commit()
    referral = services.create(officer, case, request(shared_parts=[SharedPart.NEEDS, SharedPart.NOTES]))
    db.session.commit()
    approval_refused(people, referral, "too large")


@pytest.mark.parametrize(
    "receipt",
    [
        {"action": "accept", "at": "2026-11-29T12:00:00Z", "note": "extra"},  # nothing else travels
        {"action": "route", "at": "2026-11-29T12:00:00Z", "due_at": "tomorrow", "service": "Safe house"},
        {"action": "route", "at": "2026-11-29T12:00:00Z", "due_at": "2026-11-30T12:00:00Z"},
        {"action": "decline", "at": "2026-11-29T12:00:00Z", "reason": "too_busy", "note": None},
        {"action": "decline", "at": "2026-11-29T12:00:00", "reason": "no_capacity", "note": None},
        {"action": "complete", "at": "2026-11-29T12:00:00Z", "outcome": "got_help", "services_delivered": "Bed"},
    ],
)
def test_a_receipt_with_wrong_content_is_refused_and_changes_nothing(romania, people, receipt) -> None:
    referral = services.create(people["officer"], people["case"], request())
    services.transition(people["focal"], referral, "approve", version=referral.version)
    db.session.commit()
    peer = db.session.execute(select(FederationPeer)).scalar_one()
    with pytest.raises(NotApplicable) as refused, db.session.begin_nested():
        federated.apply_update(peer, {"referral": referral.id, **receipt}, utcnow())
    assert refused.value.code == "invalid_body"
    assert db.session.get(Referral, referral.id).status == S.FOCAL_POINT_ROUTING


def test_a_focal_point_sends_one_straight_to_the_peer(romania, people) -> None:
    """The focal point that refers a person itself forwards the referral at once."""
    referral = services.create(people["focal"], people["case"], request())
    db.session.commit()
    assert referral.status == S.FOCAL_POINT_ROUTING and referral.approved_at is not None
    (row,) = outbox()
    assert row.kind == "referral" and json.loads(row.package)["body"]["referral"] == referral.id
