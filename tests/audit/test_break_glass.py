"""Break-glass access: granted at once on a justification, limited in time, notified,
marked in the trail, and reviewed by a supervisor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.roles import AgencyKind, Role
from app.audit import break_glass
from app.audit.models import AuditEntry, BreakGlassAccess, BreakGlassReview
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.extensions import db
from app.notifications.models import Notification
from tests.factories import client_for, make_agency, make_case, make_user

JUSTIFICATION = "Child found alone at the station at night, owner agency unreachable."


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        owner = make_agency("FR", AgencyKind.POLICE, name="Owner police")
        other = make_agency("FR", AgencyKind.BORDER_GUARD, name="Border guard")
        abroad = make_agency("DE", AgencyKind.POLICE, name="Abroad")
        case = make_case(owner)
        return {
            "case_id": case.id,
            "reference": case.reference,
            "owner_officer": make_user(Role.FRONTLINE, owner).id,
            "officer": make_user(Role.FRONTLINE, other).id,
            "foreign_officer": make_user(Role.FRONTLINE, abroad).id,
            "supervisor": make_user(Role.SUPERVISOR, other).id,
            "other_supervisor": make_user(Role.SUPERVISOR, owner).id,
            "foreign_supervisor": make_user(Role.SUPERVISOR, abroad).id,
        }


def ask(client: FlaskClient, reference: str, justification: str = JUSTIFICATION) -> Any:
    return client.post("/emergency-access/", data={"reference": reference, "justification": justification})


def test_grant_opens_the_case_notifies_and_marks_every_view(app: Flask, world: dict[str, Any]) -> None:
    client = client_for(app, world["officer"])
    assert client.get(f"/cases/{world['case_id']}").status_code == 404  # not in scope
    response = ask(client, world["reference"].lower())
    assert response.status_code == 302 and response.location.endswith(f"/cases/{world['case_id']}")
    page = client.get(f"/cases/{world['case_id']}")
    assert page.status_code == 200 and "emergency access to this case until" in page.get_data(as_text=True)
    assert world["reference"] not in client.get("/cases/").get_data(as_text=True)  # lists stay ordinary
    with app.app_context():
        grant = db.session.execute(select(BreakGlassAccess)).scalar_one()
        assert grant.justification == JUSTIFICATION
        assert grant.expires_at - grant.granted_at == timedelta(hours=3)
        assert JUSTIFICATION not in (grant.justification_sealed or "")  # encrypted at rest
        notified = {(n.user_id, n.kind) for n in db.session.execute(select(Notification)).scalars()}
        assert (world["owner_officer"], "break_glass.used") in notified
        assert (world["supervisor"], "break_glass.review") in notified
        assert (world["other_supervisor"], "break_glass.review") in notified
        assert all(uid != world["foreign_supervisor"] for uid, _ in notified)
        views = (
            db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "case.viewed", AuditEntry.actor_id == world["officer"])
            )
            .scalars()
            .all()
        )
        assert len(views) == 1 and views[0].details["break_glass"] == grant.id and views[0].case_id == world["case_id"]
        granted = db.session.execute(select(AuditEntry).where(AuditEntry.action == "break_glass.granted")).scalar_one()
        assert granted.case_id == world["case_id"] and JUSTIFICATION not in granted.payload


def test_access_ends_when_the_grant_expires(app: Flask, world: dict[str, Any]) -> None:
    client = client_for(app, world["officer"])
    ask(client, world["reference"])
    with app.app_context():
        grant = db.session.execute(select(BreakGlassAccess)).scalar_one()
        grant.granted_at -= timedelta(hours=4)
        grant.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert client.get(f"/cases/{world['case_id']}").status_code == 404


@pytest.mark.parametrize(
    ("who", "reference", "justification", "message"),
    [
        ("officer", None, "", "Say why you need emergency access."),
        ("officer", None, "urgent", "at least 20 characters"),
        ("officer", "FR-2026-NOPE", JUSTIFICATION, "No case with this reference in your country."),
        ("foreign_officer", None, JUSTIFICATION, "No case with this reference in your country."),
        ("owner_officer", None, JUSTIFICATION, "You can already open this case"),
    ],
)
def test_bad_requests_are_refused_next_to_the_field(
    app: Flask, world: dict[str, Any], who: str, reference: str | None, justification: str, message: str
) -> None:
    client = client_for(app, world[who])
    response = ask(client, reference or world["reference"], justification)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and message in body
    if justification:
        assert justification in body  # what was typed is kept
    with app.app_context():
        assert db.session.execute(select(BreakGlassAccess)).first() is None


def test_roles_without_cases_cannot_ask(app: Flask, world: dict[str, Any]) -> None:
    client = client_for(app, world["supervisor"])
    assert ask(client, world["reference"]).status_code == 403


def test_asking_twice_reuses_the_active_grant(app: Flask, world: dict[str, Any]) -> None:
    client = client_for(app, world["officer"])
    ask(client, world["reference"])
    ask(client, world["reference"])
    with app.app_context():
        assert len(db.session.execute(select(BreakGlassAccess)).all()) == 1


def test_supervisor_reviews_from_the_queue(app: Flask, world: dict[str, Any]) -> None:
    ask(client_for(app, world["officer"]), world["reference"])
    officer_view = client_for(app, world["officer"])
    officer_view.get(f"/cases/{world['case_id']}")
    supervisor = client_for(app, world["supervisor"])
    with app.app_context():
        grant = db.session.execute(select(BreakGlassAccess)).scalar_one()
        grant_id, version = grant.id, grant.version
    queue = supervisor.get("/audit/break-glass").get_data(as_text=True)
    assert world["reference"] in queue and "Waiting for review" in queue
    detail = supervisor.get(f"/audit/break-glass/{grant_id}").get_data(as_text=True)
    assert JUSTIFICATION in detail and "case.viewed" in detail
    refused = supervisor.post(
        f"/audit/break-glass/{grant_id}", data={"outcome": "not_justified", "note": "", "version": version}
    )
    assert refused.status_code == 400 and "Say what was wrong" in refused.get_data(as_text=True)
    done = supervisor.post(
        f"/audit/break-glass/{grant_id}",
        data={"outcome": "not_justified", "note": "No emergency: the owner agency was reachable.", "version": version},
    )
    assert done.status_code == 302
    with app.app_context():
        grant = db.session.get(BreakGlassAccess, grant_id)
        assert grant is not None and grant.review_outcome == BreakGlassReview.NOT_JUSTIFIED
        assert grant.reviewer_id == world["supervisor"] and grant.reviewed_at is not None
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "break_glass.reviewed")).scalar_one()
        assert entry.details == {"outcome": "not_justified", "holder": world["officer"]}
    again = supervisor.post(f"/audit/break-glass/{grant_id}", data={"outcome": "justified", "version": version})
    assert again.status_code == 409
    # found unjustified: the access ends at once
    assert officer_view.get(f"/cases/{world['case_id']}").status_code == 404
    odd = supervisor.post(f"/audit/break-glass/{grant_id}", data={"outcome": "justified", "version": "x1"})
    assert odd.status_code == 409


def test_review_rules(app: Flask, world: dict[str, Any]) -> None:
    ask(client_for(app, world["officer"]), world["reference"])
    with app.test_request_context():
        from app.accounts.models import User

        grant = db.session.execute(select(BreakGlassAccess)).scalar_one()
        foreign = db.session.get(User, world["foreign_supervisor"])
        supervisor = db.session.get(User, world["supervisor"])
        officer = db.session.get(User, world["officer"])
        assert foreign is not None and supervisor is not None and officer is not None
        with pytest.raises(NotFound):
            break_glass.review(
                foreign, grant.id, outcome=BreakGlassReview.JUSTIFIED, note="", version=grant.version, now=utcnow()
            )
        with pytest.raises(NotFound):  # a frontline officer is not a reviewer
            break_glass.review(
                officer, grant.id, outcome=BreakGlassReview.JUSTIFIED, note="", version=grant.version, now=utcnow()
            )
        with pytest.raises(Conflict):
            break_glass.review(
                supervisor,
                grant.id,
                outcome=BreakGlassReview.JUSTIFIED,
                note="",
                version=grant.version + 1,
                now=utcnow(),
            )
        db.session.rollback()


def test_a_supervisor_does_not_review_their_own_access(app: Flask, world: dict[str, Any]) -> None:
    with app.test_request_context():
        from app.accounts.models import User

        focal = make_user(Role.SUPERVISOR, make_agency("FR", AgencyKind.POLICE))
        supervisor = db.session.get(User, world["supervisor"])
        assert supervisor is not None
        grant = BreakGlassAccess(
            case_id=world["case_id"],
            member_state_code="FR",
            user_id=supervisor.id,
            granted_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=1),
        )
        grant.justification = JUSTIFICATION
        db.session.add(grant)
        db.session.commit()
        with pytest.raises(PermissionDenied):
            break_glass.review(
                supervisor, grant.id, outcome=BreakGlassReview.JUSTIFIED, note="", version=grant.version, now=utcnow()
            )
        reviewed = break_glass.review(
            focal, grant.id, outcome=BreakGlassReview.JUSTIFIED, note="", version=grant.version, now=utcnow()
        )
        assert reviewed.review_outcome == BreakGlassReview.JUSTIFIED
        db.session.rollback()
