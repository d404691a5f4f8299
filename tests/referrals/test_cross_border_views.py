"""Cross-border pages through the test client: the form abroad, refusals next to the field
with what was typed kept and recorded, the focal points' forms, identification requests,
and the desk with a fixed number of SQL statements whatever the number of referrals."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Agency, User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.directory.models import Service
from app.extensions import db
from app.referrals.models import Referral
from app.referrals.vocabulary import ReferralStatus
from tests.accounts.test_query_counts import count_statements
from tests.factories import (
    make_agency,
    make_case,
    make_consent,
    make_focal_point,
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
        shelter = make_agency("RO", AgencyKind.SHELTER)
        service = make_service(make_organization(shelter, name="Adapost Iasi"), name="Paturi")
        officer = make_user(Role.FRONTLINE, police)
        case = make_case(police, family_name="Zyxwvut")
        return {
            "police": police.id,
            "officer": officer.id,
            "fr_focal": make_focal_point("FR").id,
            "ro_focal": make_focal_point("RO", language="ro").id,
            "worker": make_user(Role.CASEWORKER, shelter).id,
            "case": case.id,
            "service": service.id,
        }


def refused(app: Flask) -> list[dict]:
    with app.app_context():
        return [
            e.details
            for e in db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "referral.refused").order_by(AuditEntry.seq)
            ).scalars()
        ]


def referral_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Referral)).scalar_one()


def sent_abroad(app: Flask, world, *, pseudonymised: bool = False) -> str:
    with app.app_context():
        referral = make_referral(
            db.session.get(User, world["officer"]),
            db.session.get(Case, world["case"]),
            db.session.get(Service, world["service"]),
            pseudonymised=pseudonymised,
        )
        return referral.id


def version_of(app: Flask, referral_id: str) -> int:
    with app.app_context():
        return db.session.get(Referral, referral_id).version


def test_the_form_abroad_lists_the_other_countrys_services(app: Flask, client, world) -> None:
    sign_in_as(app, client, world["officer"])
    at_home = client.get(f"/referrals/new/{world['case']}").get_data(as_text=True)
    assert "Refer to a service in another country" in at_home and "Paturi" not in at_home
    abroad = client.get(f"/referrals/new/{world['case']}?country=RO").get_data(as_text=True)
    assert "Paturi" in abroad and "Pseudonymised" in abroad and "Romania" in abroad
    for bad in ("FR", "XX", "de"):
        assert client.get(f"/referrals/new/{world['case']}?country={bad}").status_code == 404


def test_without_cross_border_consent_refused_next_to_the_field_and_recorded(app: Flask, client, world) -> None:
    with app.app_context():
        case = db.session.get(Case, world["case"])
        make_consent(case, db.session.get(User, world["officer"]), [])  # not covering a transfer abroad
    sign_in_as(app, client, world["officer"])
    response = client.post(
        f"/referrals/new/{world['case']}?country=RO",
        data={
            "service_id": world["service"],
            "purpose": "Bed near her family",
            "urgency": "urgent",
            "legal_basis": "consent",
            "shared_parts": ["profile"],
        },
    )
    text = response.get_data(as_text=True)
    assert "No active consent covers a referral to another country" in text
    assert "Bed near her family" in text
    assert referral_count(app) == 0
    assert refused(app) == [{"attempted": "create", "field": "legal_basis"}]


def test_pseudonymised_with_names_is_refused(app: Flask, client, world) -> None:
    with app.app_context():
        make_consent(db.session.get(Case, world["case"]), db.session.get(User, world["officer"]), [], cross_border=True)
    sign_in_as(app, client, world["officer"])
    response = client.post(
        f"/referrals/new/{world['case']}?country=RO",
        data={
            "service_id": world["service"],
            "purpose": "Bed",
            "urgency": "urgent",
            "legal_basis": "consent",
            "shared_parts": ["profile", "identity"],
            "pseudonymised": "y",
        },
    )
    assert "A pseudonymised referral shares no names" in response.get_data(as_text=True)
    assert referral_count(app) == 0


def test_focal_points_approve_return_and_route_through_their_pages(app: Flask, client, world) -> None:
    referral_id = sent_abroad(app, world)
    sign_in_as(app, client, world["fr_focal"])
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Approve and send to the other country" in page and "Return to the sender" in page
    # Return without a comment: the message next to the field, nothing changed, recorded.
    response = client.post(f"/referrals/{referral_id}/return", data={"version": version_of(app, referral_id)})
    assert response.status_code == 400 and "Say what the sender should change." in response.get_data(as_text=True)
    response = client.post(f"/referrals/{referral_id}/approve", data={"version": version_of(app, referral_id)})
    assert response.status_code == 302
    sign_in_as(app, client, world["ro_focal"])
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Zyxwvut" not in page
    assert 'lang="en"' in page  # the purpose, written in English, read by a Romanian focal point
    # A service that is not offered (not in Romania, or unknown) is refused next to the field.
    response = client.post(
        f"/referrals/{referral_id}/route", data={"version": version_of(app, referral_id), "service_id": "elsewhere"}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == ReferralStatus.FOCAL_POINT_ROUTING
    response = client.post(
        f"/referrals/{referral_id}/route",
        data={"version": version_of(app, referral_id), "service_id": world["service"]},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == ReferralStatus.SENT


def test_another_countrys_focal_point_gets_nothing(app: Flask, client, world) -> None:
    referral_id = sent_abroad(app, world)
    with app.app_context():
        german = make_focal_point("DE").id
    sign_in_as(app, client, german)
    assert client.get(f"/referrals/{referral_id}").status_code == 404
    assert client.post(f"/referrals/{referral_id}/approve", data={"version": 2}).status_code == 404
    # The receiving focal point before approval, and the service before routing: the same.
    for user in ("ro_focal", "worker"):
        sign_in_as(app, client, world[user])
        assert client.get(f"/referrals/{referral_id}").status_code == 404


def test_identification_requested_and_released_through_the_pages(app: Flask, client, world) -> None:
    referral_id = sent_abroad(app, world, pseudonymised=True)
    sign_in_as(app, client, world["fr_focal"])
    client.post(f"/referrals/{referral_id}/approve", data={"version": version_of(app, referral_id)})
    sign_in_as(app, client, world["ro_focal"])
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Zyxwvut" not in page
    response = client.post(
        f"/referrals/{referral_id}/identity/request", data={"version": version_of(app, referral_id), "reason": ""}
    )
    assert response.status_code == 400
    assert 'id="reason-error"' in response.get_data(as_text=True)  # in Romanian, next to the field
    with app.app_context():
        assert db.session.get(Referral, referral_id).identity_requested_at is None
    response = client.post(
        f"/referrals/{referral_id}/identity/request",
        data={"version": version_of(app, referral_id), "reason": "Pentru instanță"},
    )
    assert response.status_code == 302
    sign_in_as(app, client, world["officer"])
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Release the identification details" in page and "Pentru instanță" in page
    assert 'lang="ro"' in page  # the reason was written in Romanian
    assert (
        client.post(
            f"/referrals/{referral_id}/identity/release", data={"version": version_of(app, referral_id)}
        ).status_code
        == 302
    )
    sign_in_as(app, client, world["ro_focal"])
    assert "Zyxwvut" in client.get(f"/referrals/{referral_id}").get_data(as_text=True)


def test_desk_has_a_constant_statement_count(app: Flask, client, world) -> None:
    sign_in_as(app, client, world["fr_focal"])

    def add(n: int) -> None:
        with app.app_context():
            officer = db.session.get(User, world["officer"])
            police = db.session.get(Agency, world["police"])
            for _ in range(n):
                make_referral(officer, make_case(police), db.session.get(Service, world["service"]))

    add(2)
    with count_statements(app) as few:
        response = client.get("/referrals/desk")
    assert response.status_code == 200 and "Romania" in response.get_data(as_text=True)
    add(8)
    with count_statements(app) as many:
        assert client.get("/referrals/desk").status_code == 200
    # Session and user, the country's settings once, four lists, two counts, the audit
    # entry (chain head read and update, entry), the unread notifications (and SQLite's
    # BEGIN IMMEDIATE of each transaction, which PostgreSQL does not send).
    queries = [s for s in many if not s.startswith("BEGIN")]
    assert len(few) == len(many) and len(queries) == 12, "\n".join(s.split("\n")[0][:90] for s in queries)
