"""Referral pages end to end through the test client: make, answer, close, and what each
side sees; bad input and stale forms; access ends after the grace period; fixed SQL counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.accounts.models import Agency, User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.core.db import utcnow
from app.directory.models import Service
from app.extensions import db
from app.referrals.models import Referral
from app.referrals.vocabulary import ReferralStatus
from tests.accounts.test_query_counts import count_statements
from tests.factories import (
    make_agency,
    make_case,
    make_consent,
    make_organization,
    make_referral,
    make_service,
    make_user,
    sign_in_as,
)


@pytest.fixture
def world(app: Flask):
    with app.app_context():
        police = make_agency("FR", AgencyKind.POLICE)
        shelter = make_agency("FR", AgencyKind.SHELTER)
        organization = make_organization(shelter, name="Safe House Lyon")
        service = make_service(organization, name="Night shelter", capacity_available=1, capacity_maximum=4)
        other = make_service(make_organization(make_agency("FR", AgencyKind.NGO_SUPPORT)), name="Day centre")
        officer = make_user(Role.FRONTLINE, police)
        worker = make_user(Role.CASEWORKER, shelter)
        case = make_case(police, family_name="Zyxwvut")
        make_consent(case, officer, [organization, other.organization])
        return {
            "officer": officer.id,
            "worker": worker.id,
            "case": case.id,
            "service": service.id,
            "other": other.id,
            "police": police.id,
        }


def referral_for(world) -> Referral:
    """A sent referral of the world's case to the night shelter (inside an app context)."""
    return make_referral(
        db.session.get(User, world["officer"]),
        db.session.get(Case, world["case"]),
        db.session.get(Service, world["service"]),
    )


def test_officer_refers_and_shelter_accepts_and_completes(app: Flask, client, world) -> None:
    sign_in_as(app, client, world["officer"])
    page = client.get(f"/referrals/new/{world['case']}")
    assert page.status_code == 200
    assert "Night shelter" in page.get_data(as_text=True)
    response = client.post(
        f"/referrals/new/{world['case']}",
        data={
            "service_id": world["service"],
            "purpose": "Bed tonight",
            "urgency": "emergency",
            "shared_parts": ["profile", "needs"],
            "legal_basis": "consent",
            "action": "send",
        },
    )
    assert response.status_code == 302
    referral_url = response.headers["Location"]
    with app.app_context():
        referral = db.session.execute(select(Referral)).scalar_one()
        assert referral.status == ReferralStatus.SENT
        version = referral.version
    case_page = client.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert "Night shelter" in case_page and "Sent" in case_page

    worker = app.test_client()
    sign_in_as(app, worker, world["worker"])
    inbox = worker.get("/referrals/inbox").get_data(as_text=True)
    assert referral_url.rsplit("/", 1)[1] in inbox
    detail = worker.get(referral_url).get_data(as_text=True)
    assert "Zyxwvut" not in detail  # identity was not shared
    assert "Risk from traffickers" in detail
    assert worker.post(f"{referral_url}/accept", data={"version": version}).status_code == 302
    sender_view = client.get(referral_url).get_data(as_text=True)
    assert "Accepted" in sender_view and "Time to accept" in sender_view

    bad = worker.post(f"{referral_url}/complete", data={"version": version + 1, "outcome": "got_help"})
    assert bad.status_code == 400
    assert "Say which services the person received." in bad.get_data(as_text=True)
    done = worker.post(
        f"{referral_url}/complete",
        data={"version": version + 1, "outcome": "got_help", "services_delivered": "Two nights"},
    )
    assert done.status_code == 302
    assert "Completed" in client.get(referral_url).get_data(as_text=True)
    with app.app_context():
        actions = set(db.session.execute(select(AuditEntry.action)).scalars())
    assert {"referral.send", "referral.accept", "referral.complete", "referral.shared_viewed"} <= actions


def test_bad_input_keeps_what_was_typed(app: Flask, client, world) -> None:
    sign_in_as(app, client, world["officer"])
    response = client.post(
        f"/referrals/new/{world['case']}",
        data={"service_id": world["service"], "purpose": "", "urgency": "urgent", "legal_basis": "vital_interest"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Say what the person needs from this service." in text
    response = client.post(
        f"/referrals/new/{world['case']}",
        data={
            "service_id": world["service"],
            "purpose": "Medical care now",
            "urgency": "urgent",
            "legal_basis": "vital_interest",
            "justification": "x",
        },
    )
    text = response.get_data(as_text=True)
    assert "Your role may not make a vital-interest exception" in text
    assert "Medical care now" in text


def test_decline_without_reason_keeps_the_note_and_changes_nothing(app: Flask, client, world) -> None:
    with app.app_context():
        referral = referral_for(world)
        url, version = f"/referrals/{referral.id}", referral.version
    sign_in_as(app, client, world["worker"])
    response = client.post(f"{url}/decline", data={"version": version, "decline_reason": "", "note": "Full tonight"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Choose why the referral is declined." in text and "Full tonight" in text
    with app.app_context():
        assert db.session.get(Referral, referral.id).status == ReferralStatus.SENT


def test_stale_form_is_a_conflict(app: Flask, client, world) -> None:
    with app.app_context():
        referral = referral_for(world)
        url, version = f"/referrals/{referral.id}", referral.version
    sign_in_as(app, client, world["worker"])
    assert client.post(f"{url}/acknowledge", data={"version": version}).status_code == 302
    assert client.post(f"{url}/accept", data={"version": version}).status_code == 409
    with app.app_context():
        assert db.session.get(Referral, referral.id).status == ReferralStatus.ACKNOWLEDGED


def test_decline_then_reroute_suggests_other_services(app: Flask, client, world) -> None:
    with app.app_context():
        referral = referral_for(world)
        url, version = f"/referrals/{referral.id}", referral.version
    worker = app.test_client()
    sign_in_as(app, worker, world["worker"])
    assert worker.post(f"{url}/decline", data={"version": version, "decline_reason": "no_capacity"}).status_code == 302
    sign_in_as(app, client, world["officer"])
    text = client.get(url).get_data(as_text=True)
    assert "No capacity" in text and "Day centre" in text
    form = client.get(f"/referrals/new/{world['case']}?instead_of={world['service']}").get_data(as_text=True)
    assert "Day centre" in form and "Night shelter" not in form


def test_recipient_loses_access_after_the_grace_period(app: Flask, client, world) -> None:
    with app.app_context():
        referral = referral_for(world)
        referral.status = ReferralStatus.WITHDRAWN
        referral.ended_at = utcnow() - app.config["REFERRAL_ACCESS_GRACE"] - timedelta(minutes=1)
        db.session.commit()
        url = f"/referrals/{referral.id}"
    sign_in_as(app, client, world["worker"])
    text = client.get(url).get_data(as_text=True)
    assert "no longer available to your organisation" in text
    assert "Risk from traffickers</dt>" not in text


def test_other_organisation_cannot_open_the_referral(app: Flask, client, world) -> None:
    with app.app_context():
        referral = referral_for(world)
        stranger = make_user(Role.CASEWORKER, make_agency("FR", AgencyKind.SHELTER))
        url = f"/referrals/{referral.id}"
        stranger_id = stranger.id
    sign_in_as(app, client, stranger_id)
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/accept", data={"version": 2}).status_code == 404


@pytest.mark.parametrize(("role", "url"), [(Role.CASEWORKER, "/referrals/inbox"), (Role.FRONTLINE, "/referrals/sent")])
def test_lists_have_constant_statement_count(app: Flask, client, world, role: Role, url: str) -> None:
    sign_in_as(app, client, world["worker"] if role == Role.CASEWORKER else world["officer"])

    def add(n: int) -> None:
        with app.app_context():
            officer = db.session.get(User, world["officer"])
            police = db.session.get(Agency, world["police"])
            for _ in range(n):
                make_referral(officer, make_case(police), db.session.get(Service, world["service"]))

    add(2)
    with count_statements(app) as few:
        assert client.get(url).status_code == 200
    add(8)
    with count_statements(app) as many:
        assert client.get(url).status_code == 200
    assert len(few) == len(many)


def test_free_text_carries_its_language_and_foreign_readers_see_it(app: Flask, client, world) -> None:
    """Issue 5: free text keeps the language it was written in; a reader in another language
    sees that it is foreign (and the markup says which language it is)."""
    with app.app_context():
        officer = db.session.get(User, world["officer"])
        officer.preferred_language = "ro"
        db.session.commit()
        referral = referral_for(world)
        referral_id, version = referral.id, referral.version
        assert referral.purpose_language == "ro"
    worker = app.test_client()
    sign_in_as(app, worker, world["worker"])  # reads in English
    page = worker.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert '<span lang="ro">' in page and "written in Romanian" in page
    response = worker.post(
        f"/referrals/{referral_id}/decline",
        data={"version": version, "decline_reason": "other", "note": "Full until Monday"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Referral, referral_id).decline_note_language == "en"
    sign_in_as(app, client, world["officer"])  # reads in Romanian: the purpose is not foreign
    sender_page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert '<span lang="en">Full until Monday</span>' in sender_page
    assert "scris în" in sender_page  # the English note is tagged, in Romanian
    assert sender_page.count("scris în") == 1
