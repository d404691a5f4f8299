"""Possible duplicates: the officer learns only that a match went to the focal point."""

from __future__ import annotations

import html

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import CaseEvent, DuplicateStatus, PossibleDuplicate
from app.extensions import db
from tests.factories import make_agency, make_user, sign_in_directly
from tests.identification.test_records import form, start


def submit_as_new_officer(app: Flask, country: str = "FR", **overrides: object) -> tuple[FlaskClient, str]:
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE, make_agency(country, AgencyKind.POLICE)))
    record_id = start(client)
    response = client.post(
        f"/identifications/{record_id}", data={**form(encounter_country=country, **overrides), "action": "submit"}
    )
    assert response.status_code == 302
    return client, response.location


def test_match_goes_to_the_focal_point_who_decides(app: Flask) -> None:
    first_client, first_case = submit_as_new_officer(app)
    second_client, second_case = submit_as_new_officer(app, document_number="OTHER1")
    page = html.unescape(second_client.get(second_case).get_data(as_text=True))
    assert "A possible match with an earlier case was sent to the national focal point." in page
    assert first_client.get(first_case).status_code == 200
    assert second_client.get(first_case).status_code == 404  # the officer may not open the other case
    submit_as_new_officer(app, country="DE")  # same person, other country: not compared
    with app.app_context():
        rows = db.session.execute(select(PossibleDuplicate)).scalars().all()
        assert len(rows) == 1 and rows[0].matched_on == "name" and rows[0].member_state_code == "FR"
        focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    focal_client = app.test_client()
    with app.app_context():
        sign_in_directly(focal_client, focal)
    listing = focal_client.get("/cases/duplicates").get_data(as_text=True)
    assert first_case.rsplit("/", 1)[-1] in listing and second_case.rsplit("/", 1)[-1] in listing
    assert focal_client.post(f"/cases/duplicates/{rows[0].id}", data={"decision": "link"}).status_code == 302
    with app.app_context():
        assert db.session.get(PossibleDuplicate, rows[0].id).status == DuplicateStatus.LINKED
        assert db.session.execute(select(CaseEvent.kind).where(CaseEvent.kind == "case.linked")).scalars().all() == [
            "case.linked",
            "case.linked",
        ]
    assert focal_client.post(f"/cases/duplicates/{rows[0].id}", data={"decision": "link"}).status_code == 409
    assert "Nothing to decide." in focal_client.get("/cases/duplicates").get_data(as_text=True)


def test_document_match_and_dismissal(app: Flask) -> None:
    submit_as_new_officer(app)
    submit_as_new_officer(app, family_name="Other", given_names="Name")  # same passport number
    with app.app_context():
        row = db.session.execute(select(PossibleDuplicate)).scalar_one()
        assert row.matched_on == "document"
        focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
        other_focal = make_user(Role.FOCAL_POINT, make_agency("DE", AgencyKind.NATIONAL_FOCAL_POINT))
    outsider = app.test_client()
    with app.app_context():
        sign_in_directly(outsider, other_focal)
    assert outsider.post(f"/cases/duplicates/{row.id}", data={"decision": "dismiss"}).status_code == 404
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, focal)
    client.post(f"/cases/duplicates/{row.id}", data={"decision": "dismiss"})
    with app.app_context():
        assert db.session.get(PossibleDuplicate, row.id).status == DuplicateStatus.DISMISSED
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "duplicate.dismissed")).scalar_one()
        assert entry.case_id == row.case_id and entry.actor_id == focal.id
        assert entry.details["changes"] == {
            "decided_by_id": {"from": None, "to": focal.id},
            "status": {"from": "open", "to": "dismissed"},
        }
