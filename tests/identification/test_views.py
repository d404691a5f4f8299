"""Consulting the indicators and loading a national catalogue version."""

from __future__ import annotations

import html
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.extensions import db
from app.identification import services
from app.identification.catalogue import BUNDLED
from app.identification.models import CatalogueVersion
from tests.factories import make_agency, make_user, new_totp_secret, sign_in_directly

NATIONAL = BUNDLED.read_text().replace('id: ilo-ec-2009\n  version: "2009.1"', 'id: fr-national\n  version: "2026.1"')


@pytest.fixture
def focal_point(app: Flask, client: FlaskClient) -> User:
    with app.app_context():
        user = make_user(
            Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT), totp_secret=new_totp_secret()
        )
        sign_in_directly(client, user)
    return user


def upload(client: FlaskClient, content: str | bytes, name: str = "catalogue.yaml"):  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/indicators/versions", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def test_indicators_page_shows_sets_and_marks_provisional_ones(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE))
    page = html.unescape(client.get("/indicators/").get_data(as_text=True))
    assert "Deceived about the nature of the job, location or employer" in page
    assert "from a secondary source, to be verified" in page
    provisional = html.unescape(client.get("/indicators/?set=adult_sexual").get_data(as_text=True))
    assert "provisional: not an official list" in provisional
    client.post("/language", data={"language": "fr"})
    assert "Indicateurs" in client.get("/indicators/").get_data(as_text=True)


def test_focal_point_loads_a_national_version(app: Flask, client: FlaskClient, focal_point: User) -> None:
    response = upload(client, NATIONAL)
    assert response.status_code == 302
    with app.app_context():
        assert services.active_catalogue("FR").key == "fr-national@2026.1"
        assert services.active_catalogue("DE").key == "ilo-ec-2009@2009.1"  # other states unaffected
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "catalogue.loaded")).scalar_one()
        assert entry.details["catalogue"] == "fr-national@2026.1"
    newer = NATIONAL.replace('version: "2026.1"', 'version: "2026.2"')
    assert upload(client, newer).status_code == 302
    with app.app_context():
        rows = db.session.execute(select(CatalogueVersion).order_by(CatalogueVersion.id)).scalars().all()
        assert [r.active for r in rows] == [False, True]  # the old version is kept, superseded
    listing = client.get("/indicators/versions").get_data(as_text=True)
    assert "fr-national@2026.1" in listing and "fr-national@2026.2" in listing


def test_a_bad_file_is_refused_with_line_numbers_and_changes_nothing(
    app: Flask, client: FlaskClient, focal_point: User
) -> None:
    upload(client, NATIONAL)
    broken = NATIONAL.replace('version: "2026.1"', 'version: "2026.9"').replace("strength: strong", "strength: huge", 1)
    line = next(n for n, text in enumerate(broken.splitlines(), start=1) if "strength: huge" in text)
    response = upload(client, broken)
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "There is a problem" in body and "nothing was changed" in body
    assert f"Line {line}: huge is not one of the allowed values." in body
    with app.app_context():
        assert services.active_catalogue("FR").key == "fr-national@2026.1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (NATIONAL, "is already loaded"),
        (BUNDLED.read_text(), "is already loaded"),
        (b"\xff\xfe not text", "The file must be UTF-8 text."),
        ("", "Choose a catalogue file."),
    ],
)
def test_other_refusals(app: Flask, client: FlaskClient, focal_point: User, content: str | bytes, message: str) -> None:
    if content == NATIONAL:
        upload(client, NATIONAL)
    response = upload(client, content) if content else client.post("/indicators/versions", data={})
    assert message in html.unescape(response.get_data(as_text=True))


def test_only_focal_points_load_catalogues(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        sign_in_directly(client, make_user(Role.SUPERVISOR, totp_secret=new_totp_secret()))
    assert upload(client, NATIONAL).status_code == 403
    with app.app_context():
        assert db.session.execute(select(CatalogueVersion)).first() is None


@pytest.mark.parametrize("language", ["de", "ro", "bg"])
def test_pages_and_indicators_in_each_language(app: Flask, client: FlaskClient, language: str) -> None:
    """German, Romanian and Bulgarian readers get the interface and the indicator texts in
    their language (issue 5: each side reads structured data in its own language)."""
    from app.identification.catalogue import bundled_catalogue

    with app.app_context():
        sign_in_directly(client, make_user(Role.FRONTLINE))
    client.post("/language", data={"language": language})
    page = html.unescape(client.get("/indicators/").get_data(as_text=True))
    assert f'<html lang="{language}">' in page
    catalogue = bundled_catalogue()
    label = catalogue.indicators["adult_labour.deceived_nature_of_job"].label
    assert label.in_language(language) != label.in_language("en")
    assert label.in_language(language) in page
    assert "Deceived about the nature of the job, location or employer" not in page
