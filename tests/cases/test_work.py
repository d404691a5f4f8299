"""Notes with a visibility and tasks with due dates on a case."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import CaseNote, CaseTask
from app.core.db import utcnow
from app.extensions import db
from tests.factories import make_agency, make_case, make_user, sign_in_directly


@pytest.fixture
def case_id(app: Flask, client: FlaskClient) -> str:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.SOCIAL_SERVICES)
        case = make_case(agency)
        sign_in_directly(client, make_user(Role.FRONTLINE, agency))
    return case.id


def test_notes_are_encrypted_and_shown_with_their_visibility(app: Flask, client: FlaskClient, case_id: str) -> None:
    client.post(f"/cases/{case_id}/notes", data={"text": "Sister lives in Iasi", "visibility": "agency"})
    page = html.unescape(client.get(f"/cases/{case_id}").get_data(as_text=True))
    assert "Sister lives in Iasi" in page and "My agency and the national focal point only" in page
    with app.app_context():
        with db.engine.connect() as conn:
            assert "Iasi" not in conn.execute(text("SELECT text FROM case_note")).scalar_one()
        assert db.session.execute(select(CaseNote)).scalar_one().text == "Sister lives in Iasi"
    empty = client.post(f"/cases/{case_id}/notes", data={"text": "  ", "visibility": "agency"}, follow_redirects=True)
    assert "Write the note" in empty.get_data(as_text=True)


def test_tasks_with_due_dates_and_overdue_first(app: Flask, client: FlaskClient, case_id: str) -> None:
    today = utcnow().date()
    past = client.post(
        f"/cases/{case_id}/tasks",
        data={"title": "Call shelter", "due_on": str(today - timedelta(1))},
        follow_redirects=True,
    )
    assert "The due date cannot be in the past." in past.get_data(as_text=True)
    client.post(f"/cases/{case_id}/tasks", data={"title": "Call shelter", "due_on": str(today + timedelta(2))})
    with app.app_context():
        task = db.session.execute(select(CaseTask)).scalar_one()
        other = make_case(make_agency("FR", AgencyKind.POLICE))
        task.due_on = today - timedelta(days=1)  # time passes
        db.session.commit()
    listing = client.get("/cases/").get_data(as_text=True)
    assert "Next task due" in listing and "overdue" in listing
    assert other.reference not in listing  # another agency's case
    client.post(f"/cases/{case_id}/tasks/{task.id}/done")
    with app.app_context():
        assert db.session.get(CaseTask, task.id).done_at is not None
        done = db.session.execute(select(AuditEntry).where(AuditEntry.action == "task.done")).scalar_one()
        assert done.case_id == case_id and done.object_id == task.id
        assert done.details["changes"]["done_at"]["from"] is None and done.details["changes"]["done_at"]["to"]
        assert "Call shelter" not in done.payload
    assert client.post(f"/cases/{case_id}/tasks/{task.id}/done").status_code == 409


def test_outsiders_cannot_write(app: Flask, case_id: str) -> None:
    outsider = app.test_client()
    with app.app_context():
        sign_in_directly(outsider, make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.POLICE)))
    assert outsider.post(f"/cases/{case_id}/notes", data={"text": "x", "visibility": "agency"}).status_code == 404
    assert outsider.post(f"/cases/{case_id}/tasks", data={"title": "x", "due_on": "2030-01-01"}).status_code == 404
