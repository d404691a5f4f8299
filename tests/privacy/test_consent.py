"""Consent as its own record: scope, guardian for children, withdrawal."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.extensions import db
from app.privacy.models import Consent
from tests.factories import make_agency, make_case, make_user, sign_in_directly

TODAY = date.today()


@pytest.fixture
def case_id(app: Flask, client: FlaskClient) -> str:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.SOCIAL_SERVICES)
        case = make_case(agency)
        sign_in_directly(client, make_user(Role.FRONTLINE, agency))
    return case.id


def consent_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "given_by": "person",
        "given_on": TODAY.isoformat(),
        "language": "ro",
        "assistance_referral": "y",
        "explained": "Shelter and legal aid; may withdraw.",
    }
    data.update(overrides)
    return data


def test_record_and_withdraw(app: Flask, client: FlaskClient, case_id: str) -> None:
    assert client.get(f"/cases/{case_id}/consent/new").status_code == 200
    response = client.post(
        f"/cases/{case_id}/consent/new", data=consent_form(data_sharing="y", recipients="Shelter Lyon")
    )
    assert response.status_code == 302
    page = html.unescape(client.get(f"/cases/{case_id}").get_data(as_text=True))
    assert "referral to assistance" in page and "data sharing with Shelter Lyon" in page
    with app.app_context():
        consent = db.session.execute(select(Consent)).scalar_one()
        assert consent.active and consent.explained.startswith("Shelter")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT explained FROM consent")).scalar_one().startswith("v1:")
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    refused = client.post(
        f"/cases/{case_id}/consent/{consent.id}/withdraw", data={"withdrawn_on": yesterday}, follow_redirects=True
    )
    assert "between the day consent was given and today" in html.unescape(refused.get_data(as_text=True))
    client.post(f"/cases/{case_id}/consent/{consent.id}/withdraw", data={"withdrawn_on": TODAY.isoformat()})
    with app.app_context():
        assert db.session.get(Consent, consent.id).withdrawn_on == TODAY
        actions = set(db.session.execute(select(AuditEntry.action)).scalars())
        assert {"consent.form_viewed", "consent.recorded", "consent.withdrawn"} <= actions
        withdrawn = db.session.execute(select(AuditEntry).where(AuditEntry.action == "consent.withdrawn")).scalar_one()
        assert withdrawn.case_id == case_id
        assert withdrawn.details["changes"] == {
            "withdrawn_on": {"from": None, "to": TODAY.isoformat()},
            "withdrawn_recorded_by_id": {"from": None, "to": withdrawn.actor_id},
        }
    assert "Withdrawn on" in client.get(f"/cases/{case_id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"assistance_referral": ""}, "Choose at least one purpose the person agreed to."),
        ({"data_sharing": "y", "recipients": ""}, "Name who the data may be shared with."),
        ({"given_on": (TODAY + timedelta(days=2)).isoformat()}, "The date cannot be in the future."),
        ({"language": "xx"}, "Not a valid choice"),
    ],
)
def test_bad_consent_input(
    app: Flask, client: FlaskClient, case_id: str, overrides: dict[str, object], message: str
) -> None:
    data = {k: v for k, v in consent_form(**overrides).items() if v != ""}
    response = client.post(f"/cases/{case_id}/consent/new", data=data)
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and message in body and "Shelter and legal aid" in body
    with app.app_context():
        assert db.session.execute(select(Consent)).first() is None


def test_a_childs_consent_is_given_by_the_guardian(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        case = make_case(agency, presumed_child=True)
        sign_in_directly(client, make_user(Role.FRONTLINE, agency))
    response = client.post(f"/cases/{case.id}/consent/new", data=consent_form())
    assert "consent is given by the guardian" in html.unescape(response.get_data(as_text=True))
    assert client.post(f"/cases/{case.id}/consent/new", data=consent_form(given_by="guardian")).status_code == 302


def test_only_those_who_work_on_the_case(app: Flask, client: FlaskClient, case_id: str) -> None:
    other = app.test_client()
    with app.app_context():
        sign_in_directly(other, make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.POLICE)))
    assert other.post(f"/cases/{case_id}/consent/new", data=consent_form()).status_code == 404
