"""User journeys through Chromium: sign-in with two-factor, account creation and activation,
errors, throttling and a phone-sized screen. Every page visited is checked with axe-core."""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.accounts.roles import AgencyKind, Role
from tests.browser.conftest import assert_accessible
from tests.factories import PASSWORD, make_agency, make_user, new_totp_secret

pytestmark = pytest.mark.browser

NEW_PASSWORD = "violet otter marmalade"
CODE_LABEL = "Code from your authenticator app, or a recovery code"


def path_is(path: str) -> re.Pattern[str]:
    """Match a page address by its path on the live server, with any query string or fragment
    (a browser keeps the fragment across a redirect)."""
    return re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(path) + r"(\?[^#]*)?(#.*)?$")


def fill_sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page: Page, email: str, password: str = PASSWORD, totp_secret: str | None = None) -> None:
    page.goto("/sign-in")
    fill_sign_in(page, email, password)
    if totp_secret:
        expect(page).to_have_url(path_is("/sign-in/code"))
        page.get_by_label(CODE_LABEL).fill(pyotp.TOTP(totp_secret).now())
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(path_is("/sign-in"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def test_sign_in_with_two_factor_and_sign_out(app: Flask, page: Page) -> None:
    secret = new_totp_secret()
    with app.app_context():
        make_user(Role.SUPERVISOR, email="sup@example.org", totp_secret=secret)

    page.goto("/sign-in")
    expect(page).to_have_title(re.compile("^Sign in"))
    assert_accessible(page)
    fill_sign_in(page, "sup@example.org", PASSWORD)

    expect(page).to_have_url(path_is("/sign-in/code"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    assert_accessible(page)
    page.get_by_label(CODE_LABEL).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(path_is("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Test supervisor")
    expect(page.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    assert_accessible(page)

    sign_out(page)
    assert_accessible(page)

    page.goto("/")
    expect(page).to_have_url(path_is("/sign-in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_agency_admin_creates_an_account_that_the_new_user_activates(
    app: Flask, page: Page, new_page: Callable[..., Page]
) -> None:
    secret = new_totp_secret()
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE, name="Police FR")
        make_user(Role.AGENCY_ADMIN, agency, email="admin@example.org", totp_secret=secret)

    sign_in(page, "admin@example.org", totp_secret=secret)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("User accounts")
    assert_accessible(page)

    page.get_by_role("link", name="Add a user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a user")
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("new.officer@example.org")
    page.get_by_label("Full name").fill("New Officer")
    page.get_by_label("Role").select_option(label="Frontline professional")
    expect(page.get_by_label("Agency")).to_have_value(str(agency.id))  # the administrator's own agency
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Account created")
    assert_accessible(page)
    link = page.locator("#activation-link").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/activate/\S+", link), link
    sign_out(page)

    newcomer = new_page()  # another browser, as the link travels to someone else
    newcomer.goto(link)
    expect(newcomer).to_have_url(path_is("/activate"))  # the token has left the address bar
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Set your password")
    expect(newcomer.get_by_text("Account: new.officer@example.org")).to_be_visible()
    assert_accessible(newcomer)

    new_password = newcomer.get_by_label("New password", exact=True)
    repeat_password = newcomer.get_by_label("Repeat the new password", exact=True)
    new_password.fill("short")
    repeat_password.fill("short")
    newcomer.get_by_role("button", name="Save password").click()

    summary = newcomer.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    summary_link = summary.get_by_role("link", name="Use at least 12 characters.")
    expect(summary_link).to_have_attribute("href", "#new_password")
    expect(newcomer.locator("#new_password-error")).to_contain_text("Use at least 12 characters.")
    expect(new_password).to_have_attribute("aria-invalid", "true")
    expect(new_password).to_have_attribute("aria-describedby", re.compile(r"\bnew_password-error\b"))
    expect(new_password).to_have_value("")  # passwords are never sent back
    assert_accessible(newcomer)
    summary_link.click()
    expect(newcomer).to_have_url(re.compile(r"/activate#new_password$"))

    new_password.fill(NEW_PASSWORD)
    repeat_password.fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Save password").click()
    expect(newcomer).to_have_url(path_is("/sign-in"))
    expect(newcomer.get_by_role("status")).to_contain_text("Your password is set")
    assert_accessible(newcomer)

    fill_sign_in(newcomer, "new.officer@example.org", NEW_PASSWORD)  # frontline: no second step
    expect(newcomer).to_have_url(path_is("/"))
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Welcome, New Officer")
    assert_accessible(newcomer)

    newcomer.goto(link)  # the link works once
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    assert_accessible(newcomer)


def test_wrong_password_is_explained_and_the_e_mail_address_kept(app: Flask, page: Page) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="officer@example.org")

    page.goto("/sign-in")
    fill_sign_in(page, "officer@example.org", "not the password at all")

    expect(page).to_have_url(path_is("/sign-in"))
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    message = "The e-mail address or password is not right."
    expect(summary.get_by_role("link", name=message)).to_have_attribute("href", "#password")
    expect(page.locator("#password-error")).to_contain_text(message)
    expect(page.get_by_label("E-mail address")).to_have_value("officer@example.org")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    page.get_by_label("Password").fill(PASSWORD)  # the e-mail address is already there
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Test frontline")


def test_account_is_throttled_after_five_failed_attempts(app: Flask, page: Page) -> None:
    with app.app_context():
        make_user(Role.FRONTLINE, email="officer@example.org")

    page.goto("/sign-in")
    for attempt in range(5):
        fill_sign_in(page, "officer@example.org", f"wrong guess number {attempt}")
        expect(page.locator("#password-error")).to_contain_text("The e-mail address or password is not right.")

    page.get_by_label("Password").fill(PASSWORD)  # even the right password is refused now
    with page.expect_response(lambda r: r.request.method == "POST" and "/sign-in" in r.url) as answer:
        page.get_by_role("button", name="Sign in", exact=True).click()
    assert answer.value.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many attempts")
    expect(page.get_by_text("Wait a few minutes and try again.")).to_be_visible()
    assert_accessible(page)


def test_sign_in_page_fits_a_phone_and_switches_to_french(
    app: Flask, phone_page: Page, french_catalog: gettext.NullTranslations
) -> None:
    page = phone_page
    page.goto("/sign-in")
    assert page.evaluate("window.innerWidth") == 360
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_accessible(page)

    page.get_by_label("Language").select_option(label="Français")
    page.get_by_role("button", name="Change").click()

    expect(page).to_have_url(path_is("/sign-in"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#language-select")).to_have_value("fr")
    # "Se connecter" once the French catalogue translates it; the English text until then.
    expect(page.get_by_role("heading", level=1)).to_have_text(french_catalog.gettext("Sign in"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)


def test_signed_in_pages_fit_a_phone(app: Flask, phone_page: Page) -> None:
    secret = new_totp_secret()
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE, name="Police nationale, direction centrale")
        make_user(Role.AGENCY_ADMIN, agency, email="admin.with.a.long.address@example.org", totp_secret=secret)

    sign_in(phone_page, "admin.with.a.long.address@example.org", totp_secret=secret)
    for path in ("/", "/admin/users", "/admin/users/new", "/account/", "/indicators/", "/indicators/?set=child_sexual"):
        phone_page.goto(path)
        assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert_accessible(phone_page)


def test_focal_point_loads_a_catalogue_and_sees_line_errors(app: Flask, page: Page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.identification.catalogue import BUNDLED

    secret = new_totp_secret()
    with app.app_context():
        make_user(
            Role.FOCAL_POINT,
            make_agency("RO", AgencyKind.NATIONAL_FOCAL_POINT),
            email="fp@example.org",
            totp_secret=secret,
        )
    sign_in(page, "fp@example.org", totp_secret=secret)
    page.get_by_role("link", name="Indicators", exact=True).click()
    page.get_by_role("link", name="Load a national catalogue version").click()
    bad = tmp_path / "bad.yaml"
    bad.write_text(BUNDLED.read_text().replace("strength: strong", "strength: huge", 1))
    page.get_by_label("Catalogue file (YAML)").set_input_files(str(bad))
    page.get_by_role("button", name="Check and load").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    expect(page.locator("#problems")).to_contain_text("huge is not one of the allowed values.")
    assert_accessible(page)
    good = tmp_path / "good.yaml"
    good.write_text(BUNDLED.read_text().replace('version: "2009.1"', 'version: "2026.1-ro"'))
    page.get_by_label("Catalogue file (YAML)").set_input_files(str(good))
    page.get_by_role("button", name="Check and load").click()
    expect(page.get_by_role("status")).to_contain_text("ilo-ec-2009@2026.1-ro is now in use")
    assert_accessible(page)


def test_border_guard_identifies_a_person_of_uncertain_age_on_a_phone(app: Flask, phone_page: Page) -> None:
    secret = new_totp_secret()
    with app.app_context():
        make_user(
            Role.FRONTLINE, make_agency("RO", AgencyKind.BORDER_GUARD), email="guard@example.org", totp_secret=secret
        )
    page = phone_page
    sign_in(page, "guard@example.org", totp_secret=secret)
    page.get_by_role("link", name="My cases").first.click()
    page.get_by_role("button", name="Start an identification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Early identification")
    assert_accessible(page)

    page.get_by_label("Date of the encounter").fill("2026-11-20")
    page.get_by_label("How the person was met").select_option("border_check")
    page.get_by_label("Other names or aliases").fill("Mira")
    page.get_by_label("There are reasons to believe this person may be a child").check()
    page.get_by_label("Forced labour or services").check()
    page.get_by_role("button", name="Save and show the matching indicators").click()
    expect(page.locator("#child-rules")).to_contain_text("Child rules apply.")
    expect(page.locator("#indicators")).not_to_contain_text("provisional: not an official list")

    labour = page.locator("details.indicator-set").first
    for label in ("Deceived about the nature of the job, location or employer", "Excessive working days or hours"):
        labour.get_by_label(re.compile("^" + re.escape(label))).first.check()
    deceived = labour.get_by_label(re.compile(r"^Deceived about wages")).first
    deceived.check()
    page.get_by_role("button", name="Show the assessment").click()
    assessment = page.locator("#assessment")
    expect(assessment).to_contain_text("Child rules applied")
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("button", name="Submit identification").click()
    expect(page.get_by_role("status")).to_contain_text("The identification is submitted")
    expect(page.get_by_text("Presumed a child: child rules apply")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Back to my cases").click()
    expect(page.locator("table")).to_contain_text("child")
    assert_accessible(page)
