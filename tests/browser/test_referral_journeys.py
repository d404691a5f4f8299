"""Referral journeys through Chromium: identify, consent, refer to a shelter in an emergency,
the shelter accepts and closes the loop; a shelter declines for lack of capacity and the
officer re-routes. Every page visited is checked with axe-core."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.accounts.roles import AgencyKind, Role
from app.directory.vocabulary import ServiceType
from app.extensions import db
from tests.browser.conftest import assert_accessible
from tests.browser.test_journeys import sign_in
from tests.factories import make_agency, make_case, make_organization, make_service, make_user

pytestmark = pytest.mark.browser


def _directory(app: Flask) -> dict[str, str]:
    with app.app_context():
        police = make_agency("FR", AgencyKind.POLICE, name="Police Lyon")
        shelter = make_agency("FR", AgencyKind.SHELTER, name="Shelter agency")
        ngo = make_agency("FR", AgencyKind.NGO_SUPPORT, name="NGO agency")
        make_user(Role.FRONTLINE, police, email="officer@example.org")
        make_user(Role.CASEWORKER, shelter, email="shelter@example.org")
        shelter_org = make_organization(shelter, name="Foyer Sainte-Claire")
        make_service(
            shelter_org,
            name="Emergency beds",
            service_type=ServiceType.EMERGENCY_ACCOMMODATION,
            capacity_available=2,
            capacity_maximum=6,
            always_open=True,
        )
        make_service(
            make_organization(ngo, name="Accueil Rhône"), name="Day centre", service_type=ServiceType.COUNSELLING
        )
        return {"police": str(police.id)}


def identify(page: Page, family_name: str, *, age: int) -> str:
    """Submit an identification (sexual exploitation, a bed needed tonight); the case's reference."""
    page.get_by_role("link", name="My cases").first.click()
    page.get_by_role("button", name="Start an identification").click()
    page.get_by_label("Date of the encounter").fill("2026-11-20")
    page.get_by_label("How the person was met").select_option("police_operation")
    page.get_by_label("Family name").fill(family_name)
    page.get_by_label("Estimated age in years").fill(str(age))
    page.get_by_label("Sexual exploitation").check()
    page.get_by_label("Needs a safe place to sleep tonight").check()
    page.get_by_role("button", name="Save and show the matching indicators").click()
    page.get_by_role("button", name="Submit identification").click()
    expect(page.get_by_role("status")).to_contain_text("The identification is submitted")
    return page.get_by_role("heading", level=1).inner_text().split()[-1]


def record_consent(page: Page, organisations: list[str], *, recipients: str = "", abroad: bool = False) -> None:
    """Consent to referral and data sharing with ``organisations`` (and named ``recipients``),
    and when ``abroad`` to a transfer to another country."""
    page.get_by_role("link", name="Record consent").first.click()
    page.get_by_label("Consent given by").select_option("person")
    page.get_by_label("Date consent was given").fill("2026-11-20")
    page.get_by_label("Language in which it was explained").select_option("ro")
    page.get_by_label("Referral to assistance services").check()
    page.get_by_label("Sharing data with the recipients named below").check()
    for name in organisations:
        page.get_by_label(name).check()
    if recipients:
        page.get_by_label("Named recipients").fill(recipients)
    if abroad:
        page.get_by_label("Transfer to another country").check()
    assert_accessible(page)
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_role("status")).to_contain_text("Consent recorded")


def _refer(page: Page, service: str, urgency: str) -> None:
    page.get_by_role("link", name="Refer to a service").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("to a service")
    assert_accessible(page)
    page.get_by_role("radio", name=re.compile(re.escape(service))).check()
    page.get_by_label("What the person needs from this service").fill("A safe bed tonight, speaks Romanian")
    page.get_by_label(urgency, exact=True).check()
    page.get_by_role("button", name="Send the referral").click()
    expect(page.get_by_role("status")).to_contain_text("The referral is sent")
    expect(page.locator("#referral-status")).to_contain_text("Sent")
    assert_accessible(page)


def _open_from_inbox(page: Page, reference: str) -> None:
    page.get_by_role("link", name="Referral inbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Referral inbox")
    assert_accessible(page)
    page.get_by_role("link", name=reference).first.click()
    expect(page.get_by_role("heading", level=2, name="What the sender shared")).to_be_visible()
    assert_accessible(page)


def test_officer_refers_to_a_shelter_which_accepts_and_completes(app: Flask, new_page) -> None:  # type: ignore[no-untyped-def]
    _directory(app)
    officer = new_page()
    sign_in(officer, "officer@example.org")
    reference = identify(officer, "Popescu", age=30)

    record_consent(officer, ["Foyer Sainte-Claire"])
    _refer(officer, "Emergency beds", "Emergency")
    referral_url = officer.url

    shelter = new_page()
    sign_in(shelter, "shelter@example.org")
    _open_from_inbox(shelter, reference)
    expect(shelter.locator("main")).not_to_contain_text("Popescu")  # identity was not shared
    expect(shelter.locator("main")).to_contain_text("a safe place to sleep tonight")
    shelter.get_by_role("button", name="Accept", exact=True).click()
    expect(shelter.get_by_role("status")).to_contain_text("Accepted")

    officer.goto(referral_url)
    expect(officer.locator("#referral-status")).to_contain_text("Accepted")
    assert_accessible(officer)

    shelter.get_by_text("Record the outcome and close").first.click()
    shelter.get_by_label("Outcome").select_option("got_help")
    shelter.get_by_role("button", name="Record the outcome and close").click()
    expect(shelter.get_by_role("alert")).to_contain_text("Say which services the person received.")
    assert_accessible(shelter)
    shelter.get_by_label("Services delivered").fill("Three nights, medical check, Romanian interpreter")
    shelter.get_by_role("button", name="Record the outcome and close").click()
    expect(shelter.get_by_role("status")).to_contain_text("Completed")

    officer.reload()
    expect(officer.locator("#referral-status")).to_contain_text("Completed")
    expect(officer.locator("main")).to_contain_text("The person got help")


def test_shelter_declines_for_lack_of_capacity_and_officer_reroutes(app: Flask, new_page) -> None:  # type: ignore[no-untyped-def]
    ids = _directory(app)
    with app.app_context():
        from app.accounts.models import Agency

        case = make_case(db.session.get(Agency, int(ids["police"])), family_name="Ionescu")
        case_id, reference = case.id, case.reference
    officer = new_page()
    sign_in(officer, "officer@example.org")
    officer.goto(f"/cases/{case_id}")
    record_consent(officer, ["Foyer Sainte-Claire", "Accueil Rhône"])
    _refer(officer, "Emergency beds", "Urgent")

    shelter = new_page()
    sign_in(shelter, "shelter@example.org")
    _open_from_inbox(shelter, reference)
    shelter.get_by_text("Decline").first.click()
    shelter.get_by_label("Reason").select_option("no_capacity")
    shelter.get_by_role("button", name="Decline the referral").click()
    expect(shelter.get_by_role("status")).to_contain_text("Declined")

    officer.reload()
    expect(officer.locator("#referral-status")).to_contain_text("Declined")
    expect(officer.locator("main")).to_contain_text("No capacity")
    assert_accessible(officer)
    officer.get_by_role("link", name="Choose another service").click()
    expect(officer.locator("main")).not_to_contain_text("Emergency beds")
    officer.get_by_role("radio", name=re.compile("Day centre")).check()
    officer.get_by_label("What the person needs from this service").fill("Counselling and a place to stay")
    officer.get_by_role("button", name="Send the referral").click()
    expect(officer.locator("#referral-status")).to_contain_text("Sent")
    officer.get_by_role("link", name="Back to the case").click()
    expect(officer.locator(".referral-list")).to_contain_text("Day centre")
    assert_accessible(officer)
