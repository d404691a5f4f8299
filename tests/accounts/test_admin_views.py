"""User, agency and Member State administration through the HTTP layer."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.accounts.models import Agency, MemberState, User, UserSession
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.extensions import db
from tests.factories import PASSWORD, make_agency, make_user, new_totp_secret, sign_in_directly


@pytest.fixture
def agency_admin(app: Flask, client: FlaskClient) -> User:
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE, name="Police FR")
        admin = make_user(Role.AGENCY_ADMIN, agency, email="admin@example.org", totp_secret=new_totp_secret())
        sign_in_directly(client, admin)
    return admin


def new_user_form(agency_id: int, **overrides: str) -> dict[str, object]:
    data: dict[str, object] = {
        "email": "new.officer@example.org",
        "display_name": "New Officer",
        "role": "frontline",
        "agency_id": agency_id,
        "preferred_language": "en",
    }
    data.update(overrides)
    return data


def test_agency_admin_creates_user_who_sets_password_and_signs_in(
    app: Flask, client: FlaskClient, agency_admin: User
) -> None:
    response = client.post("/admin/users/new", data=new_user_form(agency_admin.agency_id))
    assert response.status_code == 200
    link = re.search(r'id="activation-link" type="text" readonly value="([^"]+)"', response.get_data(as_text=True))
    assert link, "the one-time link is shown to the administrator"
    newcomer = app.test_client()
    landing = newcomer.get(link.group(1).replace("http://localhost", ""))
    assert landing.status_code == 302 and landing.location == "/activate"  # token leaves the address bar
    short = newcomer.post("/activate", data={"new_password": "short", "confirm_password": "short"})
    assert "Use at least 12 characters." in short.get_data(as_text=True)
    ok = newcomer.post(
        "/activate", data={"new_password": "violet otter marmalade", "confirm_password": "violet otter marmalade"}
    )
    assert ok.status_code == 302
    again = newcomer.get(link.group(1).replace("http://localhost", ""), follow_redirects=True)
    assert again.status_code == 404  # the link works once
    signed = newcomer.post("/sign-in", data={"email": "new.officer@example.org", "password": "violet otter marmalade"})
    assert signed.status_code == 302 and signed.location == "/"
    with app.app_context():
        created = db.session.execute(select(User).where(User.email == "new.officer@example.org")).scalar_one()
        assert created.agency_id == agency_admin.agency_id and created.role == Role.FRONTLINE
        logged = set(db.session.execute(select(AuditEntry.action)).scalars())
        assert {"user.created", "user.activation_link_issued", "auth.password_set_by_link"} <= logged


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"email": "not-an-email"}, "Enter an e-mail address in the right format"),
        ({"email": ""}, "Enter an e-mail address."),
        ({"display_name": ""}, "Enter the person's name."),
        ({"display_name": "x" * 121}, "Use at most 120 characters."),
        ({"role": "system_admin"}, "Not a valid choice"),
        ({"role": "focal_point"}, "Only staff of a national focal point can have the focal point role."),
        ({"email": "ADMIN@example.org"}, "An account with this e-mail address already exists."),
    ],
)
def test_bad_user_input_is_explained_kept_and_changes_nothing(
    app: Flask, client: FlaskClient, agency_admin: User, overrides: dict[str, str], field_message: str
) -> None:
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(User)).scalar_one()
    data = new_user_form(agency_admin.agency_id, **overrides)
    response = client.post("/admin/users/new", data=data)
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "There is a problem" in body and field_message in body
    if data["display_name"]:
        assert f'value="{data["display_name"]}"' in body
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == before


def test_agency_admin_cannot_reach_users_of_another_agency(app: Flask, client: FlaskClient, agency_admin: User) -> None:
    with app.app_context():
        elsewhere = make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.SHELTER))
        mine = make_user(Role.FRONTLINE, db.session.get(Agency, agency_admin.agency_id))
        other_agency_id = elsewhere.agency_id
    listing = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{mine.id}" in listing and f"/admin/users/{elsewhere.id}" not in listing
    assert client.get(f"/admin/users/{elsewhere.id}").status_code == 404
    assert client.post(f"/admin/users/{elsewhere.id}/deactivate").status_code == 404
    moved = client.post(
        f"/admin/users/{mine.id}", data=new_user_form(other_agency_id, email=mine.email, version=str(mine.version))
    )
    assert "Not a valid choice" in moved.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, mine.id).agency_id == agency_admin.agency_id


def test_deactivation_ends_sessions_and_reactivation_restores(
    app: Flask, client: FlaskClient, agency_admin: User
) -> None:
    with app.app_context():
        officer = make_user(Role.FRONTLINE, db.session.get(Agency, agency_admin.agency_id))
    officer_client = app.test_client()
    with app.app_context():
        sign_in_directly(officer_client, db.session.get(User, officer.id))
    assert officer_client.get("/").status_code == 200
    assert client.post(f"/admin/users/{officer.id}/deactivate").status_code == 302
    assert officer_client.get("/").status_code == 302
    with app.app_context():
        assert (
            db.session.execute(select(UserSession.end_reason).where(UserSession.user_id == officer.id)).scalar_one()
            == "deactivated"
        )
    assert client.post(f"/admin/users/{agency_admin.id}/deactivate").status_code == 403  # not oneself
    assert client.post(f"/admin/users/{officer.id}/reactivate").status_code == 302
    with app.app_context():
        assert db.session.get(User, officer.id).active
        entries = db.session.execute(
            select(AuditEntry)
            .where(AuditEntry.action.in_(("user.deactivated", "user.activated")))
            .order_by(AuditEntry.seq)
        ).scalars()
        assert [(e.action, e.details["changes"]) for e in entries] == [
            ("user.deactivated", {"active": {"from": True, "to": False}}),
            ("user.activated", {"active": {"from": False, "to": True}}),
        ]


def test_admin_resets_two_factor(app: Flask, client: FlaskClient, agency_admin: User) -> None:
    with app.app_context():
        supervisor = make_user(
            Role.SUPERVISOR,
            db.session.get(Agency, agency_admin.agency_id),
            email="sup@example.org",
            totp_secret=new_totp_secret(),
        )
    assert client.post(f"/admin/users/{supervisor.id}/reset-two-factor").status_code == 302
    with app.app_context():
        assert not db.session.get(User, supervisor.id).two_factor_enabled
    response = app.test_client().post("/sign-in", data={"email": "sup@example.org", "password": PASSWORD})
    assert response.location == "/sign-in/set-up-two-factor"


def test_stale_edit_is_refused(app: Flask, client: FlaskClient, agency_admin: User) -> None:
    with app.app_context():
        officer = make_user(Role.FRONTLINE, db.session.get(Agency, agency_admin.agency_id))
    data = new_user_form(agency_admin.agency_id, email=officer.email, display_name="Renamed", version="999")
    assert client.post(f"/admin/users/{officer.id}", data=data).status_code == 409
    with app.app_context():
        assert db.session.get(User, officer.id).display_name != "Renamed"


def test_user_edit_records_field_changes(app: Flask, client: FlaskClient, agency_admin: User) -> None:
    with app.app_context():
        officer = make_user(Role.FRONTLINE, db.session.get(Agency, agency_admin.agency_id), email="old@example.org")
    data = new_user_form(
        agency_admin.agency_id, email="New@Example.org", display_name="Renamed", version=str(officer.version)
    )
    assert client.post(f"/admin/users/{officer.id}", data=data).status_code == 302
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "user.updated")).scalar_one()
        assert entry.details["changed"] == ["display_name", "email"]
        assert entry.details["changes"] == {
            "display_name": {"from": "Test frontline", "to": "Renamed"},
            "email": {"from": "old@example.org", "to": "new@example.org"},  # staff data: shown
        }


@pytest.fixture
def system_admin(app: Flask, client: FlaskClient) -> User:
    with app.app_context():
        admin = make_user(
            Role.SYSTEM_ADMIN, make_agency("BE", AgencyKind.NATIONAL_FOCAL_POINT), totp_secret=new_totp_secret()
        )
        sign_in_directly(client, admin)
    return admin


def test_system_admin_manages_agencies(app: Flask, client: FlaskClient, system_admin: User) -> None:
    data = {"name": "Shelter Lyon", "member_state_code": "FR", "kind": "shelter", "active": "y"}
    assert client.post("/admin/agencies/new", data=data).status_code == 302
    duplicate = client.post("/admin/agencies/new", data={**data, "name": "shelter lyon"})
    assert "An agency with this name already exists in this country." in duplicate.get_data(as_text=True)
    unknown = client.post("/admin/agencies/new", data={**data, "member_state_code": "ZZ"})
    assert "Not a valid choice" in unknown.get_data(as_text=True)
    with app.app_context():
        agency = db.session.execute(select(Agency).where(Agency.name == "Shelter Lyon")).scalar_one()
        staff = make_user(Role.CASEWORKER, agency)
    staff_client = app.test_client()
    with app.app_context():
        sign_in_directly(staff_client, db.session.get(User, staff.id))
    edit = {"name": "Shelter Lyon", "member_state_code": "FR", "kind": "shelter", "version": str(agency.version)}
    assert client.post(f"/admin/agencies/{agency.id}", data=edit).status_code == 302  # unticked: inactive
    assert staff_client.get("/").status_code == 302  # staff of an inactive agency are signed out
    with app.app_context():
        assert not db.session.get(Agency, agency.id).active
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "agency.updated")).scalar_one()
        assert entry.details["changes"] == {"active": {"from": True, "to": False}}


def test_system_admin_edits_member_state_settings(app: Flask, client: FlaskClient, system_admin: User) -> None:
    with app.app_context():
        focal = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Mission FR")
        police = make_agency("FR", AgencyKind.POLICE)
    page = client.get("/admin/member-states").get_data(as_text=True)
    assert "France" in page and "Ukraine" in page
    base = {
        "default_language": "fr",
        "timezone": "Europe/Paris",
        "retention_months": "60",
        "audit_retention_months": "120",
        "version": "1",
        "reflection_period_days": "30",
        "decision_working_days": "5",
        "referral_emergency_hours": "2",
        "referral_urgent_hours": "24",
        "referral_routine_working_days": "5",
        "focal_point_emergency_hours": "2",
        "focal_point_urgent_hours": "24",
        "focal_point_routine_working_days": "2",
    }
    wrong_kind = client.post("/admin/member-states/FR", data={**base, "focal_point_agency_id": str(police.id)})
    assert "Not a valid choice" in wrong_kind.get_data(as_text=True)
    bad_zone = client.post(
        "/admin/member-states/FR", data={**base, "focal_point_agency_id": str(focal.id), "timezone": "Mars/Olympus"}
    )
    assert "Enter a time zone" in bad_zone.get_data(as_text=True)
    assert 'value="Mars/Olympus"' in bad_zone.get_data(as_text=True)
    bad_number = client.post(
        "/admin/member-states/FR", data={**base, "focal_point_agency_id": str(focal.id), "retention_months": "-3"}
    )
    assert "Enter a number from 1 to 1200." in bad_number.get_data(as_text=True)
    short_audit = client.post(
        "/admin/member-states/FR",
        data={
            **base,
            "focal_point_agency_id": str(focal.id),
            "retention_months": "240",
            "audit_retention_months": "120",
        },
    )
    assert "at least as long as the case data" in short_audit.get_data(as_text=True)
    assert 'value="240"' in short_audit.get_data(as_text=True)
    ok = client.post("/admin/member-states/FR", data={**base, "focal_point_agency_id": str(focal.id)})
    assert ok.status_code == 302
    with app.app_context():
        state = db.session.get(MemberState, "FR")
        assert state.focal_point_agency_id == focal.id and state.retention_months == 60
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "member_state.updated")).scalar_one()
        changes = entry.details["changes"]
        assert entry.member_state_code == "FR"  # France's supervisors see changes to France
        assert changes["focal_point_agency_id"] == {"from": None, "to": focal.id}
        assert changes["retention_months"] == {"from": None, "to": 60}
        assert "reflection_period_days" not in changes  # unchanged fields are left out
        assert state.audit_retention_months == 120 and "audit_retention_months" not in changes
    assert client.get("/admin/member-states/XX").status_code == 404


def test_system_admin_only_hands_out_admin_roles(app: Flask, client: FlaskClient, system_admin: User) -> None:
    with app.app_context():
        agency = make_agency("RO", AgencyKind.NGO_SUPPORT)
    refused = client.post("/admin/users/new", data=new_user_form(agency.id, role="supervisor"))
    assert "Not a valid choice" in refused.get_data(as_text=True)
    assert client.post("/admin/users/new", data=new_user_form(agency.id, role="agency_admin")).status_code == 200
    with app.app_context():
        assert (
            db.session.execute(select(User.role).where(User.email == "new.officer@example.org")).scalar_one()
            == Role.AGENCY_ADMIN
        )


def base_fp(version: int) -> dict[str, str]:
    return {
        "default_language": "fr",
        "timezone": "Europe/Paris",
        "audit_retention_months": "120",
        "reflection_period_days": "45",
        "decision_working_days": "5",
        "referral_emergency_hours": "2",
        "referral_urgent_hours": "24",
        "referral_routine_working_days": "5",
        "focal_point_emergency_hours": "2",
        "focal_point_urgent_hours": "24",
        "focal_point_routine_working_days": "2",
        "version": str(version),
    }


def test_focal_point_edits_only_its_own_countrys_settings(app: Flask) -> None:
    """Issue 5: a country's settings are editable by its focal point and the operator."""
    with app.app_context():
        focal_agency = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Mission FR")
        other_focal = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Other FR")
        focal = make_user(Role.FOCAL_POINT, focal_agency, totp_secret=new_totp_secret())
        state = db.session.get(MemberState, "FR")
        state.focal_point_agency_id = focal_agency.id
        db.session.commit()
        version = state.version
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, db.session.get(User, focal.id))
    listing = client.get("/admin/member-states").get_data(as_text=True)
    assert "France" in listing and "Germany" not in listing
    assert client.get("/admin/member-states/DE").status_code == 404
    page = client.get("/admin/member-states/FR").get_data(as_text=True)
    assert "Mission FR" in page and "Other FR" in page
    response = client.post(
        "/admin/member-states/FR",
        data={
            "default_language": "fr",
            "timezone": "Europe/Paris",
            "audit_retention_months": "120",
            "reflection_period_days": "45",
            "decision_working_days": "5",
            "referral_emergency_hours": "2",
            "referral_urgent_hours": "24",
            "referral_routine_working_days": "5",
            "focal_point_emergency_hours": "2",
            "focal_point_urgent_hours": "24",
            "focal_point_routine_working_days": "2",
            "focal_point_agency_id": str(other_focal.id),  # the issue: the focal point may hand over
            "version": str(version),
        },
    )
    assert response.status_code == 302
    shorter = client.post(
        "/admin/member-states/FR",
        data={**base_fp(version + 1), "audit_retention_months": "60"},
    )
    assert "Only the system administrators" in shorter.get_data(as_text=True)
    with app.app_context():
        state = db.session.get(MemberState, "FR")
        assert state.reflection_period_days == 45 and state.focal_point_agency_id == other_focal.id
        assert state.audit_retention_months == 120
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "member_state.updated")).scalar_one()
        assert entry.actor_id == focal.id and entry.details["changes"]["reflection_period_days"] == {
            "from": 30,
            "to": 45,
        }


def test_a_garbled_version_is_a_stale_form_not_an_error(app: Flask) -> None:
    with app.app_context():
        admin = make_user(Role.SYSTEM_ADMIN, totp_secret=new_totp_secret())
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, db.session.get(User, admin.id))
    response = client.post("/admin/member-states/FR", data={**base_fp(1), "version": "not-a-number"})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(MemberState, "FR").version == 1
