"""Legal clocks on cases: from the Member State's settings, overdue first in My cases."""

from __future__ import annotations

import html
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import MemberState
from app.accounts.roles import AgencyKind, Role
from app.cases.deadlines import add_working_days
from app.cases.models import Case
from app.core.db import utcnow
from app.extensions import db
from tests.factories import make_agency, make_case, make_user, new_totp_secret, sign_in_directly
from tests.identification.test_records import form, start


def test_submission_starts_the_clocks(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.POLICE)))
    record_id = start(client)
    case_url = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"}).location
    today = utcnow().date()
    page = html.unescape(client.get(case_url).get_data(as_text=True))
    decision = add_working_days(today, 5, "FR")
    assert "Reasonable-grounds decision due" in page and "Recovery and reflection period ends" in page
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.reasonable_grounds_on == today
    assert decision.strftime("%Y") in page


def test_overdue_cases_come_first(app: Flask, client: FlaskClient) -> None:
    today = utcnow().date()
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        recent, overdue, no_clock = make_case(agency), make_case(agency), make_case(agency)
        for case, start in ((recent, today), (overdue, today - timedelta(days=40)), (no_clock, None)):
            db.session.get(Case, case.id).reasonable_grounds_on = start
        db.session.commit()
        sign_in_directly(client, make_user(Role.FRONTLINE, agency))
    page = client.get("/cases/").get_data(as_text=True)
    positions = [page.index(c.reference) for c in (overdue, recent, no_clock)]
    assert positions == sorted(positions)
    assert "overdue" in page


def test_member_state_clock_settings(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        sign_in_directly(
            client,
            make_user(
                Role.SYSTEM_ADMIN, make_agency("BE", AgencyKind.NATIONAL_FOCAL_POINT), totp_secret=new_totp_secret()
            ),
        )
    base = {
        "default_language": "de",
        "timezone": "Europe/Berlin",
        "version": "1",
        "focal_point_agency_id": "0",
        "reflection_period_days": "45",
        "decision_working_days": "10",
        "referral_emergency_hours": "3",
        "referral_urgent_hours": "12",
        "referral_routine_working_days": "4",
        "focal_point_emergency_hours": "2",
        "focal_point_urgent_hours": "24",
        "focal_point_routine_working_days": "2",
        "audit_retention_months": "120",
    }
    short = client.post("/admin/member-states/DE", data={**base, "reflection_period_days": "20"})
    assert "Enter at least 30 days" in html.unescape(short.get_data(as_text=True))
    region = client.post("/admin/member-states/DE", data={**base, "holiday_subdivision": "ZZ"})
    assert "This region is not known" in region.get_data(as_text=True)
    assert client.post("/admin/member-states/DE", data={**base, "holiday_subdivision": "by"}).status_code == 302
    with app.app_context():
        state = db.session.get(MemberState, "DE")
        assert (state.reflection_period_days, state.decision_working_days, state.holiday_subdivision) == (45, 10, "BY")
        assert (state.referral_emergency_hours, state.referral_urgent_hours, state.referral_routine_working_days) == (
            3,
            12,
            4,
        )
    inverted = client.post(
        "/admin/member-states/DE",
        data={**base, "version": "2", "referral_emergency_hours": "30", "referral_urgent_hours": "12"},
    )
    assert "An urgent deadline cannot be shorter than an emergency one." in inverted.get_data(as_text=True)
