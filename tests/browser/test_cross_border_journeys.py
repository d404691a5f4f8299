"""A cross-border referral through Chromium (issue 5): an officer in France refers a person
to a shelter in Romania; the French focal point approves, the Romanian focal point routes,
the shelter accepts and the officer sees it. The officer works in English, the French focal
point in French, the Romanian focal point and the shelter in Romanian: each reads statuses,
urgency, needs and forms of exploitation in their own language, and free text tagged with
the language it was written in. Every page visited is checked with axe-core."""

from __future__ import annotations

import gettext
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.accounts.roles import AgencyKind, Role
from app.directory.vocabulary import ServiceType
from tests.browser.conftest import assert_accessible
from tests.browser.test_journeys import CODE_LABEL, sign_in
from tests.browser.test_referral_journeys import identify, record_consent
from tests.factories import (
    PASSWORD,
    make_agency,
    make_focal_point,
    make_organization,
    make_service,
    make_user,
    new_totp_secret,
)

pytestmark = pytest.mark.browser

Catalogs = Callable[[str], gettext.NullTranslations]


def _world(app: Flask) -> dict[str, str]:
    with app.app_context():
        from app.extensions import db

        police = make_agency("FR", AgencyKind.POLICE, name="Police Lyon")
        make_user(Role.FRONTLINE, police, email="officer@example.org")
        secrets = {}
        for country, email, language in (("FR", "pfn@example.org", "fr"), ("RO", "pfn@example.ro", "ro")):
            secrets[country] = new_totp_secret()
            make_focal_point(country, email=email, language=language, totp_secret=secrets[country])
        shelter = make_agency("RO", AgencyKind.SHELTER, name="Adăpost Iași")
        make_user(Role.CASEWORKER, shelter, email="adapost@example.ro", language="ro")
        make_service(
            make_organization(shelter, name="Adăpost Iași"),
            name="Paturi de urgență",
            service_type=ServiceType.EMERGENCY_ACCOMMODATION,
            capacity_available=3,
            capacity_maximum=8,
            always_open=True,
        )
        db.session.commit()
        return secrets


def _sign_in_in(page: Page, email: str, totp_secret: str | None, catalog: gettext.NullTranslations) -> None:
    """Sign in on a browser whose language is the user's."""
    t = catalog.gettext
    page.goto("/sign-in")
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password")).fill(PASSWORD)
    page.get_by_role("button", name=t("Sign in"), exact=True).click()
    if totp_secret:
        page.get_by_label(t(CODE_LABEL)).fill(pyotp.TOTP(totp_secret).now())
        page.get_by_role("button", name=t("Continue")).click()
    expect(page.get_by_role("navigation", name=t("Main"))).to_be_visible()


def _open_from_desk(page: Page, reference: str, t: Callable[[str], str]) -> None:
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Cross-border desk")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Cross-border desk"))
    assert_accessible(page)
    waiting = page.locator("table").first
    waiting.get_by_role("link", name=reference).click()
    assert_accessible(page)


def test_officer_refers_abroad_both_focal_points_act_shelter_accepts(
    app: Flask, new_page: Callable[..., Page], catalogs: Catalogs
) -> None:
    secrets = _world(app)
    fr, ro = catalogs("fr").gettext, catalogs("ro").gettext

    # The officer (English) identifies the person and records consent to a transfer abroad.
    officer = new_page()
    sign_in(officer, "officer@example.org")
    reference = identify(officer, "Dumitrescu", age=24)

    record_consent(officer, [], recipients="The referral mechanism in Romania", abroad=True)

    # Refers to a shelter in Romania; first without choosing a service: refused, text kept.
    officer.get_by_role("link", name="Refer to a service").click()
    officer.get_by_text("Refer to a service in another country").click()
    officer.get_by_role("link", name="Romania").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Romania")
    assert_accessible(officer)
    officer.get_by_label("What the person needs from this service").fill("A bed near her family in Iasi")
    officer.get_by_label("Urgent", exact=True).check()
    officer.get_by_label("Forms of exploitation, indicators and assessment").check()
    officer.get_by_role("button", name="Send the referral").click()
    expect(officer.get_by_role("alert")).to_be_visible()
    expect(officer.get_by_label("What the person needs from this service")).to_have_value(
        "A bed near her family in Iasi"
    )
    officer.get_by_role("radio", name="Paturi de urgență").check()
    officer.get_by_role("button", name="Send the referral").click()
    expect(officer.get_by_role("status")).to_contain_text("sent to your national focal point")
    expect(officer.locator("#referral-status")).to_contain_text("At the sending focal point")
    expect(officer.locator("#referral-route")).to_contain_text("From France to Romania")
    assert_accessible(officer)
    referral_url = officer.url

    # The French focal point (in French) approves from its desk.
    french_fp = new_page(locale="fr-FR")
    _sign_in_in(french_fp, "pfn@example.org", secrets["FR"], catalogs("fr"))
    _open_from_desk(french_fp, reference, fr)
    expect(french_fp.locator("#referral-status")).to_contain_text(fr("At the sending focal point"))
    french_fp.get_by_role("button", name=fr("Approve and send to the other country")).click()
    expect(french_fp.locator("#referral-status")).to_contain_text(fr("At the receiving focal point"))

    # The Romanian focal point (in Romanian) sees only what was shared, and routes it.
    romanian_fp = new_page(locale="ro-RO")
    _sign_in_in(romanian_fp, "pfn@example.ro", secrets["RO"], catalogs("ro"))
    _open_from_desk(romanian_fp, reference, ro)
    main = romanian_fp.locator("main")
    expect(main).not_to_contain_text("Dumitrescu")
    expect(main).to_contain_text(ro("a safe place to sleep tonight"))
    expect(main).to_contain_text(ro("Urgent"))
    expect(main.locator("span[lang=en]")).to_have_text("A bed near her family in Iasi")
    expect(main.locator(".tag-language").first).to_be_visible()  # "written in English", in Romanian
    romanian_fp.get_by_role("button", name=ro("Route to the service")).click()
    expect(romanian_fp.locator("#referral-status")).to_contain_text(ro("Sent"))
    assert_accessible(romanian_fp)

    # The shelter (in Romanian) accepts.
    shelter = new_page(locale="ro-RO")
    _sign_in_in(shelter, "adapost@example.ro", None, catalogs("ro"))
    shelter.get_by_role("link", name=ro("Referral inbox")).click()
    shelter.get_by_role("link", name=reference).first.click()
    expect(shelter.get_by_role("heading", level=2, name=ro("What the sender shared"))).to_be_visible()
    expect(shelter.locator("main")).not_to_contain_text("Dumitrescu")
    assert_accessible(shelter)
    shelter.get_by_role("button", name=ro("Accept"), exact=True).click()
    expect(shelter.locator("#referral-status")).to_contain_text(ro("Accepted"))

    # The officer (English) sees it accepted, with every stage in the history.
    officer.goto(referral_url)
    expect(officer.locator("#referral-status")).to_contain_text("Accepted")
    history = officer.locator("table").last
    for who in ("sending focal point", "receiving focal point", "service"):
        expect(history).to_contain_text(who)
    assert_accessible(officer)
