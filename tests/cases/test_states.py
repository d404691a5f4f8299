"""Case status: every (state, action) pair, and who may act."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import Agency
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import Case, CaseEvent
from app.cases.states import CASE_TRANSITIONS
from app.cases.vocabulary import CaseStatus
from app.extensions import db
from tests.factories import make_agency, make_case, make_user, sign_in_directly

ACTIONS = ("start_assistance", "close", "reopen")
EXPECTED = {
    (CaseStatus.OPEN, "start_assistance"): CaseStatus.ASSISTING,
    (CaseStatus.OPEN, "close"): CaseStatus.CLOSED,
    (CaseStatus.ASSISTING, "close"): CaseStatus.CLOSED,
    (CaseStatus.CLOSED, "reopen"): CaseStatus.REOPENED,
    (CaseStatus.REOPENED, "start_assistance"): CaseStatus.ASSISTING,
    (CaseStatus.REOPENED, "close"): CaseStatus.CLOSED,
}


@pytest.mark.parametrize("state", list(CaseStatus))
@pytest.mark.parametrize("action", ACTIONS)
def test_state_by_action(app: Flask, client: FlaskClient, state: CaseStatus, action: str) -> None:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        user = make_user(Role.FRONTLINE, agency)
        case = make_case(agency)
        row = db.session.get(Case, case.id)
        row.status, row.closed_reason = state, ("other" if state == CaseStatus.CLOSED else None)
        db.session.commit()
        version = row.version
        sign_in_directly(client, user)
    response = client.post(
        f"/cases/{case.id}/status", data={"action": action, "version": version, "reason": "assistance_completed"}
    )
    with app.app_context():
        row = db.session.get(Case, case.id)
        expected = EXPECTED.get((state, action))
        if expected is None:
            assert response.status_code == 409 and row.status == state
        else:
            assert response.status_code == 302 and row.status == expected
            assert (row.closed_reason is not None) is (expected == CaseStatus.CLOSED)
            assert db.session.execute(select(CaseEvent.kind)).scalar_one() == f"case.{action}"
            entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == f"case.{action}")).scalar_one()
            assert entry.object_id == case.id and entry.case_id == case.id
            changes = entry.details["changes"]
            assert changes["status"] == {"from": state.value, "to": expected.value}
            if expected == CaseStatus.CLOSED:
                assert changes["closed_reason"] == {"from": None, "to": "assistance_completed"}
            elif state == CaseStatus.CLOSED:
                assert changes["closed_reason"] == {"from": "other", "to": None}
            else:
                assert set(changes) == {"status"}


def test_table_has_exactly_the_expected_rows() -> None:
    assert {(t.source, t.action): t.target for t in CASE_TRANSITIONS.rows} == EXPECTED


@pytest.mark.parametrize(
    ("role", "same_agency", "status"),
    [
        (Role.FRONTLINE, True, 302),
        (Role.FRONTLINE, False, 404),
        (Role.FOCAL_POINT, False, 302),
        (Role.CASEWORKER, True, 403),
        (Role.SUPERVISOR, True, 403),
        (Role.SYSTEM_ADMIN, True, 403),
    ],
)
def test_who_may_change_status(app: Flask, client: FlaskClient, role: Role, same_agency: bool, status: int) -> None:
    with app.app_context():
        owner = make_agency("FR", AgencyKind.POLICE)
        case = make_case(owner)
        home = owner if same_agency else make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT)
        sign_in_directly(client, make_user(role, db.session.get(Agency, home.id)))
    response = client.post(f"/cases/{case.id}/status", data={"action": "start_assistance", "version": 1})
    assert response.status_code == status


def test_closing_needs_a_reason_and_stale_forms_are_refused(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        case = make_case(agency)
        sign_in_directly(client, make_user(Role.FRONTLINE, agency))
    no_reason = client.post(
        f"/cases/{case.id}/status", data={"action": "close", "version": 1, "reason": ""}, follow_redirects=True
    )
    assert "Say why the case is closed." in no_reason.get_data(as_text=True)
    assert (
        client.post(f"/cases/{case.id}/status", data={"action": "close", "version": 7, "reason": "other"}).status_code
        == 409
    )
    with app.app_context():
        assert db.session.get(Case, case.id).status == CaseStatus.OPEN
