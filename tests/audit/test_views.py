"""Supervisor pages: filters, a case's trail with diffs, one user's activity, anomalies,
verified exports; bad filters refused next to the field and recorded."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import select

from app.accounts.roles import AgencyKind, Role
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.audit.services import chain_hash
from app.cases.models import Case
from app.extensions import db
from tests.accounts.test_query_counts import count_statements
from tests.audit.tampering import tamper
from tests.factories import client_for, make_agency, make_case, make_user


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        police = make_agency("FR", AgencyKind.POLICE, name="Police Lille")
        guards = make_agency("FR", AgencyKind.BORDER_GUARD, name="Border guard Calais")
        abroad = make_agency("DE", AgencyKind.POLICE, name="Polizei")
        case = make_case(police)
        other_case = make_case(guards)
        foreign_case = make_case(abroad)
        officer = make_user(Role.FRONTLINE, police, email="officer@police.example")
        guard = make_user(Role.FRONTLINE, guards, email="guard@border.example")
        foreign = make_user(Role.FRONTLINE, abroad)
        supervisor = make_user(Role.SUPERVISOR, police, email="supervisor@police.example")
        return {
            "case": case.id,
            "reference": case.reference,
            "other_case": other_case.id,
            "foreign_case": foreign_case.id,
            "foreign_reference": foreign_case.reference,
            "officer": officer.id,
            "guard": guard.id,
            "foreign": foreign.id,
            "supervisor": supervisor.id,
            "police": police.id,
            "guards": guards.id,
        }


def browse(app: Flask, world: dict[str, Any], *, change: bool = True) -> None:
    """Officers open their cases, and the officer changes the case's status (a diff)."""
    officer = client_for(app, world["officer"])
    guard = client_for(app, world["guard"])
    foreign = client_for(app, world["foreign"])
    assert officer.get(f"/cases/{world['case']}").status_code == 200
    assert guard.get(f"/cases/{world['other_case']}").status_code == 200
    assert foreign.get(f"/cases/{world['foreign_case']}").status_code == 200
    if not change:
        return
    with app.app_context():
        case = db.session.get(Case, world["case"])
        assert case is not None
        version = case.version
    response = officer.post(
        f"/cases/{world['case']}/status", data={"action": "start_assistance", "reason": "", "version": version}
    )
    assert response.status_code == 302


def test_filters_by_case_user_agency_action_and_dates(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    supervisor = client_for(app, world["supervisor"])

    def results(query: dict[str, Any]) -> str:
        """Filters typed into the form: POSTed, redirected to an address with ids only."""
        posted = supervisor.post("/audit/", data=query)
        assert posted.status_code == 302 and "@" not in posted.location  # no e-mail address in a URL
        return supervisor.get(posted.location).get_data(as_text=True).split("Entries, newest first")[1]

    by_case = results({"case_reference": world["reference"]})
    assert "case.viewed" in by_case and "case.start_assistance" in by_case
    assert "Border guard Calais" not in by_case  # the guard never touched this case
    by_user = results({"user_email": "GUARD@border.example"})
    assert "Border guard Calais" in by_user and "Police Lille" not in by_user
    by_agency = results({"agency_id": world["guards"]})
    assert "Border guard Calais" in by_agency and "Police Lille" not in by_agency
    by_family = results({"action": "case."})
    assert "case.viewed" in by_family and "auth.sign_in" not in by_family
    tomorrow = (audit.utcnow() + timedelta(days=1)).date().isoformat()
    future = results({"date_from": tomorrow})
    assert "No entries match." in future
    everything = results({})
    assert "Polizei" not in everything  # another country's trail stays out
    with app.app_context():
        searched = db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.searched")).scalars().all()
        assert len(searched) == 6 and searched[0].details["filter"] == {"case_reference": world["reference"]}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "29/11/2026"}, "date_from", "Enter a date as YYYY-MM-DD"),
        ({"date_from": "2026-11-29", "date_to": "2026-11-01"}, "date_to", "The end date comes before the start date."),
        ({"user_email": "not-an-address"}, "user_email", "Enter an e-mail address"),
        ({"user_email": "nobody@nowhere.example"}, "user_email", "No user with this e-mail address in your country."),
        ({"case_reference": "x'; drop table"}, "case_reference", "letters, digits and dashes only"),
        ({"case_reference": "FR-2026-NOPE"}, "case_reference", "No case with this reference in your country."),
        ({"agency_id": "abc"}, "agency_id", "Choose an agency from the list."),
        ({"action": "Case Viewed!"}, "action", 'Use lower-case letters, "_" and "." only'),
    ],
)
def test_bad_filters_are_refused_and_recorded(
    app: Flask, world: dict[str, Any], query: dict[str, str], field: str, message: str
) -> None:
    supervisor = client_for(app, world["supervisor"])
    response = supervisor.post("/audit/", data=query)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and message in body
    assert "Traceback" not in body
    for value in query.values():
        assert f'value="{value}"' in body.replace("&#39;", "'") or field == "agency_id"  # kept as typed
    with app.app_context():
        refused = db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.filter_refused")).scalar_one()
        assert field in refused.details["fields"]


def test_another_countrys_case_is_not_found(app: Flask, world: dict[str, Any]) -> None:
    supervisor = client_for(app, world["supervisor"])
    assert supervisor.get(f"/audit/cases/{world['foreign_case']}").status_code == 404
    response = supervisor.post("/audit/", data={"case_reference": world["foreign_reference"]})
    assert response.status_code == 400


def test_case_trail_shows_who_and_the_diff_but_no_case_content(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    supervisor = client_for(app, world["supervisor"])
    page = supervisor.get(f"/audit/cases/{world['case']}").get_data(as_text=True)
    assert "case.viewed" in page and "case.start_assistance" in page
    assert "Test frontline" in page and "Police Lille" in page
    assert "Doe" not in page  # the person's name is never in the trail
    assert supervisor.get(f"/cases/{world['case']}").status_code == 403  # the trail, not the case
    with app.app_context():
        viewed = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "audit.case_trail_viewed")
        ).scalar_one()
        assert viewed.case_id == world["case"] and viewed.actor_id == world["supervisor"]


def test_user_activity(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    supervisor = client_for(app, world["supervisor"])
    page = supervisor.get(f"/audit/users/{world['guard']}").get_data(as_text=True)
    assert "guard@border.example" in page and "case.viewed" in page
    assert supervisor.get(f"/audit/users/{world['foreign']}").status_code == 404


def test_anomalies_flag_heavy_viewing_quiet_hours_and_break_glass(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    app.config["AUDIT_CASES_PER_HOUR_THRESHOLD"] = 0
    app.config["AUDIT_QUIET_HOURS"] = "0-0"  # start == end: the whole day counts as quiet
    try:
        supervisor = client_for(app, world["supervisor"])
        page = supervisor.get("/audit/anomalies").get_data(as_text=True)
    finally:
        app.config["AUDIT_CASES_PER_HOUR_THRESHOLD"] = 30
        app.config["AUDIT_QUIET_HOURS"] = "22-6"
    heavy, quiet = page.split("Activity outside working hours")[0], page.split("Activity outside working hours")[1]
    assert "Test frontline" in heavy and "None." not in heavy.split("Many cases viewed in one hour")[1]
    assert "Test frontline" in quiet


def _verify_export_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert chain_hash(row["prev_hash"], row["payload"]) == row["entry_hash"]


def test_json_export_carries_a_checkpoint_that_verifies(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    supervisor = client_for(app, world["supervisor"])
    response = supervisor.post("/audit/export", data={"format": "json", "case_reference": world["reference"]})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    key = OKPKey.import_key(document["public_key"])
    claim = json.loads(jws.deserialize_compact(document["checkpoint"]["jws"], key, algorithms=["Ed25519"]).payload)
    assert claim["seq"] == document["checkpoint"]["seq"] and claim["hash"] == document["checkpoint"]["entry_hash"]
    actions = [row["action"] for row in document["entries"]]
    assert "case.viewed" in actions and "case.start_assistance" in actions
    assert all(row["case_id"] == world["case"] for row in document["entries"])
    _verify_export_rows(document["entries"])
    with app.app_context():
        exported = db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.exported")).scalar_one()
        assert exported.details["checkpoint_seq"] == claim["seq"] and exported.details["format"] == "json"
        # the checkpoint pins the real chain
        pinned = db.session.get(AuditEntry, claim["seq"])
        assert pinned is not None and pinned.entry_hash == claim["hash"]


def test_csv_export_starts_with_its_checkpoint(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    supervisor = client_for(app, world["supervisor"])
    response = supervisor.post("/audit/export", data={"format": "csv", "user_id": world["guard"]})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["action"] == "audit.checkpoint" and rows[0]["details"].count(".") == 2
    entries = rows[1:]
    assert entries and all(row["actor_id"] == str(world["guard"]) for row in entries)
    _verify_export_rows(entries)


def test_export_is_not_a_link(app: Flask, world: dict[str, Any]) -> None:
    """An export signs and records: a GET from a link elsewhere must not start one."""
    supervisor = client_for(app, world["supervisor"])
    assert supervisor.get("/audit/export?format=json").status_code == 405


def test_export_of_a_broken_chain_is_refused(app: Flask, world: dict[str, Any]) -> None:
    browse(app, world)
    with app.app_context():
        tamper("UPDATE audit_entry SET actor_id = 999 WHERE seq = 2")
    supervisor = client_for(app, world["supervisor"])
    response = supervisor.post("/audit/export", data={"format": "json"}, follow_redirects=True)
    assert response.status_code == 200
    assert "did not verify (first broken entry: 2)" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.exported")).first() is None
        refused = db.session.execute(select(AuditEntry).where(AuditEntry.action == "audit.export_refused")).scalar_one()
        assert refused.details["first_broken_seq"] == 2


def test_trail_page_runs_a_fixed_number_of_statements(app: Flask, world: dict[str, Any]) -> None:
    supervisor = client_for(app, world["supervisor"])
    browse(app, world)
    with count_statements(app) as few:
        assert supervisor.get("/audit/").status_code == 200
    for _ in range(3):
        browse(app, world, change=False)
    with count_statements(app) as many:
        assert supervisor.get("/audit/").status_code == 200
    assert len(few) == len(many)


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/audit/"), ("POST", "/audit/export"), ("GET", "/audit/break-glass"), ("GET", "/audit/anomalies")],
)
def test_roles_without_audit_access_are_refused_and_recorded(
    app: Flask, world: dict[str, Any], method: str, url: str
) -> None:
    officer = client_for(app, world["officer"])
    response = officer.open(url, method=method, data={"format": "csv"} if method == "POST" else None)
    assert response.status_code == 403
    with app.app_context():
        denied = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "auth.permission_denied")
        ).scalar_one()
        assert denied.actor_id == world["officer"] and denied.details["endpoint"].startswith("audit.")
        assert denied.member_state_code == "FR"  # the officer's country's supervisors see it


@pytest.mark.parametrize(
    "url",
    [
        "/audit/anomalies?days=%C2%B2",  # a superscript two: a digit to str.isdigit, not to int()
        "/audit/?older_than=99999999999999999999999",
        f"/audit/users/{2**70}",
        "/audit/?older_than=abc",
    ],
)
def test_odd_parameters_never_give_a_server_error(app: Flask, world: dict[str, Any], url: str) -> None:
    supervisor = client_for(app, world["supervisor"])
    assert supervisor.get(url).status_code in (200, 404)


def test_emergency_access_is_read_only(app: Flask, world: dict[str, Any]) -> None:
    """Break-glass opens the case page; it gives no right to act on the case or refer."""
    with app.app_context():
        from app.audit.models import BreakGlassAccess
        from app.core.db import utcnow

        grant = BreakGlassAccess(
            case_id=world["case"],
            member_state_code="FR",
            user_id=world["guard"],
            granted_at=utcnow(),
            expires_at=utcnow() + timedelta(hours=1),
        )
        grant.justification = "A child is in danger tonight, owner unreachable."
        db.session.add(grant)
        db.session.commit()
    guard = client_for(app, world["guard"])
    assert guard.get(f"/cases/{world['case']}").status_code == 200
    assert guard.get(f"/referrals/new/{world['case']}").status_code == 404
    assert guard.get(f"/cases/{world['case']}/consent/new").status_code == 404
    assert guard.post(f"/cases/{world['case']}/notes", data={"text": "x", "visibility": "agency"}).status_code == 404
    assert guard.post(f"/cases/{world['case']}/status", data={"action": "close", "version": 1}).status_code == 404
