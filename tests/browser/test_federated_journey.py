"""A referral between two installations through Chromium (issue 5): an officer in Romania
(working in English) refers a person to a shelter in Bulgaria, which runs its own
installation; the Romanian focal point (in Romanian) approves on the Romanian installation,
the Bulgarian focal point (in Bulgarian) routes it on the Bulgarian one, the shelter (in
Bulgarian) accepts, and the officer sees it accepted at home. Each installation is a
process of its own with its own database; between the pages, the test process runs each
side's delivery worker, as ``flask federation deliver`` would. Every page visited is
checked with axe-core."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.accounts.roles import AgencyKind, Role
from app.core.db import utcnow
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.federation import transport
from tests.browser.conftest import assert_accessible
from tests.browser.test_cross_border_journeys import _open_from_desk, _sign_in_in
from tests.browser.test_journeys import sign_in
from tests.browser.test_referral_journeys import identify, record_consent
from tests.factories import make_agency, make_focal_point, make_organization, make_service, make_user, new_totp_secret
from tests.federation.two_installations import Installation, running_pair

pytestmark = pytest.mark.browser

Catalogs = Callable[[str], gettext.NullTranslations]


@pytest.fixture(scope="module")
def pair(database_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, Installation]]:
    tmp: Path = tmp_path_factory.mktemp("journey_installations")
    with running_pair(database_uri, tmp, ("web_ro", "RO"), ("web_bg", "BG")) as both:
        yield both


def _people(romania: Installation, bulgaria: Installation) -> dict[str, str]:
    secrets = {"RO": new_totp_secret(), "BG": new_totp_secret()}
    with romania.app.app_context():
        police = make_agency("RO", AgencyKind.POLICE, name="Poliția Iași")
        make_user(Role.FRONTLINE, police, email="officer@example.ro")
        make_focal_point("RO", email="pfn@example.ro", language="ro", totp_secret=secrets["RO"])
    with bulgaria.app.app_context():
        make_focal_point("BG", email="nkm@example.bg", language="bg", totp_secret=secrets["BG"])
        shelter = make_agency("BG", AgencyKind.SHELTER, name="Приют София")
        make_user(Role.CASEWORKER, shelter, email="priyut@example.bg", language="bg")
        make_service(
            make_organization(shelter, name="Приют София"),
            name="Спешни легла",
            service_type=ServiceType.EMERGENCY_ACCOMMODATION,
        )
        db.session.commit()
    return secrets


def _deliver(side: Installation) -> None:
    with side.app.app_context():
        assert transport.deliver_due(utcnow()).delivered >= 1


def test_a_referral_to_another_installation_is_routed_there_and_accepted(
    pair: tuple[Installation, Installation], new_page: Callable[..., Page], catalogs: Catalogs
) -> None:
    romania, bulgaria = pair
    secrets = _people(romania, bulgaria)
    ro, bg = catalogs("ro").gettext, catalogs("bg").gettext

    # The officer (English, Romanian installation) identifies, records consent to a transfer
    # abroad, and refers the person to Bulgaria: the kind of service, not a service.
    officer = new_page(base_url=romania.base_url)
    sign_in(officer, "officer@example.ro")
    reference = identify(officer, "Dumitrescu", age=24)
    record_consent(officer, [], recipients="The referral mechanism in Bulgaria", abroad=True)
    officer.get_by_role("link", name="Refer to a service").click()
    officer.get_by_text("Refer to a service in another country").click()
    officer.get_by_role("link", name="Bulgaria").click()
    expect(officer.locator("#peer-installation")).to_contain_text("runs its own installation")
    assert_accessible(officer)
    officer.get_by_label("What the person needs from this service").fill("A bed tonight, she speaks Romanian")
    officer.get_by_label("Urgent", exact=True).check()
    officer.get_by_role("button", name="Send the referral").click()
    expect(officer.locator("#service_type-error")).to_contain_text("Choose the kind of service the person needs.")
    expect(officer.get_by_label("What the person needs from this service")).to_have_value(
        "A bed tonight, she speaks Romanian"
    )
    officer.get_by_label("Kind of service").select_option("emergency_accommodation")
    officer.get_by_role("button", name="Send the referral").click()
    expect(officer.locator("#referral-status")).to_contain_text("At the sending focal point")
    expect(officer.locator("#referral-service")).to_contain_text("Emergency accommodation in Bulgaria")
    assert_accessible(officer)
    referral_url = officer.url

    # The Romanian focal point (in Romanian) approves: the referral leaves for Bulgaria.
    romanian_fp = new_page(base_url=romania.base_url, locale="ro-RO")
    _sign_in_in(romanian_fp, "pfn@example.ro", secrets["RO"], catalogs("ro"))
    _open_from_desk(romanian_fp, reference, ro)
    romanian_fp.get_by_role("button", name=ro("Approve and send to the other country")).click()
    expect(romanian_fp.locator("#referral-status")).to_contain_text(ro("At the receiving focal point"))
    _deliver(romania)

    # The Bulgarian focal point (in Bulgarian, its own installation) sees only what was
    # shared, in Bulgarian, and the purpose tagged as written in English; it routes it.
    bulgarian_fp = new_page(base_url=bulgaria.base_url, locale="bg-BG")
    _sign_in_in(bulgarian_fp, "nkm@example.bg", secrets["BG"], catalogs("bg"))
    _open_from_desk(bulgarian_fp, reference, bg)
    main = bulgarian_fp.locator("main")
    expect(main).not_to_contain_text("Dumitrescu")
    expect(main).to_contain_text(bg("a safe place to sleep tonight"))
    expect(main).to_contain_text("Poliția Iași")
    expect(main.locator("span[lang=en]")).to_have_text("A bed tonight, she speaks Romanian")
    bulgarian_fp.get_by_role("button", name=bg("Route to the service")).click()
    expect(bulgarian_fp.locator("#referral-status")).to_contain_text(bg("Sent"))
    assert_accessible(bulgarian_fp)

    # The shelter (in Bulgarian) accepts.
    shelter = new_page(base_url=bulgaria.base_url, locale="bg-BG")
    _sign_in_in(shelter, "priyut@example.bg", None, catalogs("bg"))
    shelter.get_by_role("link", name=bg("Referral inbox")).click()
    shelter.get_by_role("link", name=reference).first.click()
    expect(shelter.locator("main")).not_to_contain_text("Dumitrescu")
    assert_accessible(shelter)
    shelter.get_by_role("button", name=bg("Accept"), exact=True).click()
    expect(shelter.locator("#referral-status")).to_contain_text(bg("Accepted"))
    _deliver(bulgaria)

    # The officer (English, at home) sees it accepted by the shelter, and who did what.
    officer.goto(referral_url)
    expect(officer.locator("#referral-status")).to_contain_text("Accepted")
    expect(officer.locator("#referral-service")).to_contain_text("Спешни легла")
    history = officer.locator("table").last
    expect(history).to_contain_text("The other country's installation (receiving focal point)")
    expect(history).to_contain_text("The other country's installation (service)")
    assert_accessible(officer)
