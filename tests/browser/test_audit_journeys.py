"""Supervision through Chromium: a supervisor finds who viewed a case, opens the diff of a
change, reviews an emergency (break-glass) access and exports a verified trail. Every page
visited is checked with axe-core."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from joserfc import jws
from joserfc.jwk import OKPKey
from playwright.sync_api import expect

from app.accounts.roles import AgencyKind, Role
from app.audit.services import chain_hash
from tests.browser.conftest import assert_accessible
from tests.browser.test_journeys import sign_in
from tests.factories import make_agency, make_case, make_user, new_totp_secret

pytestmark = pytest.mark.browser

JUSTIFICATION = "Teenager found alone at the ferry terminal at 2 a.m.; the owner agency does not answer."


def test_supervisor_traces_views_reviews_break_glass_and_exports(app: Flask, new_page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = new_totp_secret()
    with app.app_context():
        police = make_agency("FR", AgencyKind.POLICE, name="Police Marseille")
        guards = make_agency("FR", AgencyKind.BORDER_GUARD, name="Border guard Calais")
        make_user(Role.FRONTLINE, police, email="officer@example.org")
        make_user(Role.FRONTLINE, guards, email="guard@example.org")
        make_user(Role.SUPERVISOR, police, email="supervisor@example.org", totp_secret=secret)
        case = make_case(police, family_name="Ionescu")
        case_id, reference = case.id, case.reference

    # The owner agency's officer closes the case: a change with a before and an after.
    officer = new_page()
    sign_in(officer, "officer@example.org")
    officer.goto(f"/cases/{case_id}")
    officer.get_by_role("button", name="Close the case").click()
    expect(officer.get_by_role("status")).to_contain_text("The case status is changed")

    # A border guard of another agency needs the case tonight: emergency access.
    guard = new_page()
    sign_in(guard, "guard@example.org")
    guard.get_by_role("link", name="My cases").first.click()
    guard.get_by_role("link", name="emergency access").click()
    assert_accessible(guard)
    guard.get_by_label("Case reference").fill(reference)
    guard.get_by_role("button", name="Open the case now").click()
    expect(guard.get_by_role("alert")).to_contain_text("Say why you need emergency access.")
    expect(guard.get_by_label("Case reference")).to_have_value(reference)
    guard.get_by_label("Why do you need this case now?").fill(JUSTIFICATION)
    guard.get_by_role("button", name="Open the case now").click()
    expect(guard.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(guard.locator("main")).to_contain_text("You are using emergency access to this case")
    assert_accessible(guard)

    # The supervisor finds who viewed the case.
    supervisor = new_page()
    sign_in(supervisor, "supervisor@example.org", totp_secret=secret)
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    assert_accessible(supervisor)
    supervisor.get_by_label("Case reference").fill(reference)
    supervisor.get_by_role("button", name="Filter").click()
    trail = supervisor.locator("table.audit-trail")
    expect(trail).to_contain_text("case.viewed")
    expect(trail).to_contain_text("Border guard Calais")
    expect(trail).to_contain_text("Emergency access")
    expect(trail).not_to_contain_text("Ionescu")
    assert_accessible(supervisor)

    # ...and opens the diff of the change in the case's own trail.
    supervisor.get_by_role("link", name=reference).first.click()
    expect(supervisor.get_by_role("heading", level=1)).to_contain_text(reference)
    close_row = supervisor.locator("tr", has=supervisor.locator("code", has_text="case.close"))
    expect(close_row).to_contain_text("status")
    expect(close_row).to_contain_text("open")
    expect(close_row).to_contain_text("closed")
    expect(close_row).to_contain_text("assistance_completed")
    assert_accessible(supervisor)

    # The emergency access waits for review.
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    supervisor.get_by_role("link", name="Emergency access reviews").click()
    assert_accessible(supervisor)
    supervisor.locator("table").get_by_role("link").first.click()
    expect(supervisor.locator("main")).to_contain_text(JUSTIFICATION)
    expect(supervisor.locator("main")).to_contain_text("case.viewed")
    assert_accessible(supervisor)
    supervisor.get_by_label("Not justified: follow up with the user and their agency").check()
    supervisor.get_by_role("button", name="Record the review").click()
    expect(supervisor.get_by_role("alert")).to_contain_text("Say what was wrong")
    supervisor.get_by_label("Justified: the emergency access was needed").check()
    supervisor.get_by_label("Note").fill("Confirmed with the night duty officer.")
    supervisor.get_by_role("button", name="Record the review").click()
    expect(supervisor.get_by_role("status")).to_contain_text("Your review is recorded.")
    expect(supervisor.locator("main")).to_contain_text("Nothing waits for review.")

    # A verified export of the case's trail, with a checkpoint anyone can check.
    supervisor.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    supervisor.get_by_label("Case reference").fill(reference)
    supervisor.get_by_role("button", name="Filter").click()
    with supervisor.expect_download() as download_info:
        supervisor.get_by_role("button", name="Export as JSON").click()
    path = tmp_path / "trail.json"
    download_info.value.save_as(path)
    document = json.loads(path.read_text())
    key = OKPKey.import_key(document["public_key"])
    claim = json.loads(jws.deserialize_compact(document["checkpoint"]["jws"], key, algorithms=["Ed25519"]).payload)
    assert claim["seq"] == document["checkpoint"]["seq"]
    actions = [entry["action"] for entry in document["entries"]]
    assert "case.close" in actions and "break_glass.granted" in actions and "break_glass.reviewed" in actions
    assert all(chain_hash(e["prev_hash"], e["payload"]) == e["entry_hash"] for e in document["entries"])
    assert "Ionescu" not in path.read_text()
