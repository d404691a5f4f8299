"""Directory pages: search filters, the service page and its capacity form, management
forms that keep what was typed, import errors, exports, and a fixed number of SQL
statements for the search page."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.accounts.roles import AgencyKind, Role
from app.core.db import utcnow
from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType
from app.extensions import db
from tests.accounts.test_query_counts import count_statements
from tests.directory.test_hsds import CSV_HEADER, csv_row
from tests.factories import make_agency, make_organization, make_service, make_user, new_totp_secret, sign_in_directly


def sign_in(client: FlaskClient, role: Role, kind: AgencyKind = AgencyKind.SHELTER, country: str = "FR") -> int:
    """Sign in a new user of a new agency; returns the agency's id."""
    if role == Role.FOCAL_POINT:
        kind = AgencyKind.NATIONAL_FOCAL_POINT
    agency = make_agency(country, kind)
    sign_in_directly(client, make_user(role, agency, totp_secret=new_totp_secret()))
    return agency.id


def service_count() -> int:
    return db.session.execute(select(func.count()).select_from(Service)).scalar_one()


@pytest.fixture
def catalogue(app: Flask, client: FlaskClient) -> dict[str, str]:
    """A frontline user in France, and services to find."""
    with app.app_context():
        sign_in(client, Role.FRONTLINE, AgencyKind.POLICE)
        shelter = make_organization(make_agency("FR", AgencyKind.SHELTER), name="Refuge Paris")
        clinic = make_organization(country="FR", name="Clinique")
        berlin = make_organization(country="DE", name="Berliner Hilfe")
        rows = {
            "alpha": make_service(
                shelter,
                name="Alpha shelter",
                languages=["fr", "en"],
                target_groups=["women"],
                always_open=True,
                phone="+33123456789",
                capacity_unit="beds",
                capacity_available=3,
                capacity_maximum=10,
                capacity_updated_at=utcnow() - timedelta(hours=2, minutes=1),
            ),
            "beta": make_service(clinic, name="Beta clinic", service_type=ServiceType.MEDICAL, languages=["fr", "ar"]),
            "gamma": make_service(
                shelter,
                name="Gamma full shelter",
                languages=["fr"],
                target_groups=["men"],
                capacity_unit="beds",
                capacity_available=0,
                capacity_maximum=5,
            ),
            "delta": make_service(
                berlin, name="Delta counselling", service_type=ServiceType.LEGAL_AID, languages=["de"]
            ),
            "epsilon": make_service(clinic, name="Epsilon closed", service_type=ServiceType.MEDICAL, active=False),
        }
        return {key: service.id for key, service in rows.items()}  # type: ignore[attr-defined]


NAMES = {
    "alpha": "Alpha shelter",
    "beta": "Beta clinic",
    "gamma": "Gamma full shelter",
    "delta": "Delta counselling",
    "epsilon": "Epsilon closed",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"alpha", "beta", "gamma"}),  # first visit: the user's own country
        ("?country=", {"alpha", "beta", "gamma", "delta"}),
        ("?country=FR&service_type=medical", {"beta"}),
        ("?country=&language=de", {"delta"}),
        ("?country=FR&language=ar", {"beta"}),
        ("?country=FR&target_group=women", {"alpha", "beta"}),  # beta is open to everyone
        ("?country=FR&free_capacity=y", {"alpha"}),
        ("?country=&q=berliner", {"delta"}),
        ("?country=DE&service_type=safe_accommodation", set()),
    ],
)
def test_search_filters(client: FlaskClient, catalogue, query: str, expected: set[str]) -> None:
    response = client.get(f"/directory/{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert {key for key, name in NAMES.items() if name in html} == expected


def test_search_shows_capacity_phone_and_24_7(client: FlaskClient, catalogue) -> None:
    html = client.get("/directory/").get_data(as_text=True)
    assert "3 of 10 beds free, updated 2 hours ago" in html
    assert 'href="tel:+33123456789"' in html and "+33 1 23 45 67 89" in html
    assert "Open 24/7" in html
    assert "0 of 5 beds free" in html and "Full" in html
    assert "Refuge Paris" in html  # the organisation
    assert "Women" in html and "English" in html and "Safe accommodation" in html


def test_search_with_an_unknown_code_shows_the_problem(client: FlaskClient, catalogue) -> None:
    html = client.get("/directory/?service_type=sauna").get_data(as_text=True)
    assert "There is a problem" in html and "Alpha shelter" not in html


def test_search_page_has_a_fixed_number_of_statements(app: Flask, client: FlaskClient, catalogue) -> None:
    client.get("/directory/?country=")  # warm-up
    with count_statements(app) as few:
        assert client.get("/directory/?country=").status_code == 200
    with app.app_context():
        for n in range(20):
            organization = make_organization(country="FR" if n % 2 else "DE")
            make_service(organization, capacity_unit="beds", capacity_available=n % 3, capacity_maximum=5)
    with count_statements(app) as many:
        html = client.get("/directory/?country=").get_data(as_text=True)
    assert "24 services found" in html
    assert len(many) == len(few), f"{len(few)} statements with 4 services, {len(many)} with 24"


def test_service_page(client: FlaskClient, catalogue) -> None:
    html = client.get(f"/directory/services/{catalogue['alpha']}").get_data(as_text=True)
    assert "Alpha shelter" in html and "3 of 10 beds free" in html and 'href="tel:+33123456789"' in html
    assert "Update the capacity" not in html  # a frontline user is not the service's staff
    assert client.get(f"/directory/services/{catalogue['epsilon']}").status_code == 404  # inactive
    assert client.get("/directory/services/no-such-service").status_code == 404


@pytest.fixture
def shelter_staff(app: Flask, client: FlaskClient) -> str:
    """A caseworker signed in, whose agency runs a shelter with 2 of 10 beds free."""
    with app.app_context():
        agency_id = sign_in(client, Role.CASEWORKER)
        from app.accounts.models import Agency

        organization = make_organization(db.session.get(Agency, agency_id))
        service = make_service(organization, capacity_unit="beds", capacity_available=2, capacity_maximum=10)
        return service.id  # type: ignore[attr-defined,no-any-return]


def test_capacity_form_is_shown_to_the_services_staff(client: FlaskClient, shelter_staff: str) -> None:
    html = client.get(f"/directory/services/{shelter_staff}").get_data(as_text=True)
    assert "Update the capacity" in html and 'name="capacity_available"' in html


def test_capacity_update(app: Flask, client: FlaskClient, shelter_staff: str) -> None:
    response = client.post(
        f"/directory/services/{shelter_staff}/capacity",
        data={"capacity_available": "5", "capacity_maximum": "10", "version": "1"},
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The capacity is updated." in html and "5 of 10 beds free" in html
    with app.app_context():
        service = db.session.get(Service, shelter_staff)
        assert service is not None and service.capacity_available == 5 and service.capacity_updated_by_id is not None


@pytest.mark.parametrize(
    ("available", "maximum", "message"),
    [
        ("11", "10", "There cannot be more free places than the maximum."),
        ("-1", "10", "Enter a number of 0 or more."),
        ("3", "-2", "Enter a number of 0 or more."),
        ("abc", "10", "Not a valid integer value."),
    ],
)
def test_bad_capacity_is_refused_with_a_message_and_the_typed_values_kept(
    app: Flask, client: FlaskClient, shelter_staff: str, available: str, maximum: str, message: str
) -> None:
    response = client.post(
        f"/directory/services/{shelter_staff}/capacity",
        data={"capacity_available": available, "capacity_maximum": maximum, "version": "1"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html and "There is a problem" in html
    assert f'value="{available}"' in html and f'value="{maximum}"' in html
    with app.app_context():
        service = db.session.get(Service, shelter_staff)
        assert service is not None and (service.capacity_available, service.capacity_maximum) == (2, 10)


def test_stale_capacity_form_is_a_conflict(client: FlaskClient, shelter_staff: str) -> None:
    response = client.post(
        f"/directory/services/{shelter_staff}/capacity",
        data={"capacity_available": "1", "capacity_maximum": "10", "version": "7"},
    )
    assert response.status_code == 409


def test_capacity_of_another_agencys_service_is_refused(app: Flask, client: FlaskClient, catalogue) -> None:
    with app.app_context():
        sign_in(client, Role.CASEWORKER)
    data = {"capacity_available": "1", "capacity_maximum": "10", "version": "1"}
    assert client.post(f"/directory/services/{catalogue['alpha']}/capacity", data=data).status_code == 403


def test_frontline_cannot_manage(client: FlaskClient, catalogue) -> None:
    assert client.get("/directory/organisations").status_code == 403
    assert client.get("/directory/export.json").status_code == 403
    assert client.post(f"/directory/services/{catalogue['alpha']}/capacity").status_code == 403


@pytest.fixture
def focal_point(app: Flask, client: FlaskClient) -> str:
    """A French focal point signed in, and a French organisation without services."""
    with app.app_context():
        sign_in(client, Role.FOCAL_POINT)
        return make_organization(country="FR", name="Association Paris").id  # type: ignore[attr-defined,no-any-return]


def test_bad_service_input_keeps_what_was_typed(app: Flask, client: FlaskClient, focal_point: str) -> None:
    response = client.post(
        f"/directory/organisations/{focal_point}/services/new",
        data={
            "name": "Night shelter",
            "service_type": "emergency_accommodation",
            "member_state_code": "FR",
            "region": "Paris",
            "languages": ["fr", "uk"],
            "target_groups": ["women"],
            "phone": "12ab",
            "email": "night@example.org",
            "opening_hours": "Every night from 19:00",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Enter a valid phone number, in international form like +33 1 23 45 67 89." in html
    assert 'href="#phone"' in html  # the error summary links to the field
    for typed in ('value="12ab"', 'value="Night shelter"', 'value="Paris"', 'value="Every night from 19:00"'):
        assert typed in html
    assert '<option selected value="uk">' in html and '<option selected value="fr">' in html
    assert '<input checked id="target_groups-0" name="target_groups" type="checkbox" value="women">' in html
    with app.app_context():
        assert service_count() == 0


def test_service_is_created_and_edited(app: Flask, client: FlaskClient, focal_point: str) -> None:
    data = {
        "name": "Night shelter",
        "service_type": "emergency_accommodation",
        "member_state_code": "FR",
        "phone": "01 23 45 67 89",
        "capacity_unit": "beds",
    }
    response = client.post(f"/directory/organisations/{focal_point}/services/new", data=data)
    assert response.status_code == 302
    with app.app_context():
        service = db.session.execute(select(Service)).scalar_one()
        assert service.phone == "+33123456789"
        service_id = service.id
    form = client.get(f"/directory/services/{service_id}/edit").get_data(as_text=True)
    assert 'value="+33123456789"' in form and 'value="1"' in form  # version
    response = client.post(
        f"/directory/services/{service_id}/edit", data=data | {"name": "Night shelter Paris", "version": "1"}
    )
    assert response.status_code == 302
    response = client.post(f"/directory/services/{service_id}/active", data={"active": "0"})
    assert response.status_code == 302
    with app.app_context():
        service = db.session.get(Service, service_id)
        assert service is not None and service.name == "Night shelter Paris" and not service.active


def test_bad_organisation_input_keeps_what_was_typed(app: Flask, client: FlaskClient, focal_point: str) -> None:
    response = client.post(
        "/directory/organisations/new",
        data={"name": "New NGO", "member_state_code": "FR", "agency_id": "0", "website": "ftp://ngo", "email": "x"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Enter a web address starting with https://" in html
    assert "Enter an e-mail address in the right format" in html
    assert 'value="ftp://ngo"' in html and 'value="New NGO"' in html
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Organization)).scalar_one() == 1


def test_organisations_page_lists_only_what_the_actor_manages(app: Flask, client: FlaskClient, focal_point) -> None:
    with app.app_context():
        make_organization(country="DE", name="Hilfe Berlin")
    html = client.get("/directory/organisations").get_data(as_text=True)
    assert "Association Paris" in html and "Hilfe Berlin" not in html
    with app.app_context():
        abroad = db.session.execute(select(Organization).where(Organization.name == "Hilfe Berlin")).scalar_one()
        abroad_id = abroad.id
    assert client.get(f"/directory/organisations/{abroad_id}").status_code == 403
    assert client.post(f"/directory/organisations/{focal_point}/active", data={"active": "0"}).status_code == 302
    with app.app_context():
        own = db.session.get(Organization, focal_point)
        assert own is not None and not own.active


def test_import_errors_page(app: Flask, client: FlaskClient, focal_point: str) -> None:
    organization = {"organization_id": focal_point, "organization_name": "Association Paris"}
    organization["organization_member_state"] = "FR"
    content = (
        CSV_HEADER
        + "\n"
        + csv_row(**organization, service_name="Fine", service_type="medical")
        + csv_row(**organization, service_name="Full", service_type="medical", capacity_available="12")
        + csv_row(**organization, service_name="Full", service_type="sauna")
    ).encode()
    response = client.post(
        "/directory/import",
        data={"file": (io.BytesIO(content), "directory.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html and "The file has 2 problems." in html
    assert "<tr><td>3</td><td><code>capacity_maximum</code></td>" in html
    assert "Enter the maximum as well, or leave both empty." in html
    assert "<tr><td>4</td><td><code>service_type</code></td>" in html
    with app.app_context():
        assert service_count() == 0


def test_import_needs_a_file(client: FlaskClient, focal_point: str) -> None:
    html = client.post("/directory/import", data={}).get_data(as_text=True)
    assert "Choose a file to upload." in html


def test_export_and_import_through_the_pages(app: Flask, client: FlaskClient, focal_point: str) -> None:
    with app.app_context():
        make_service(db.session.get(Organization, focal_point), name="Legal clinic", phone="+33123456789")
    response = client.get("/directory/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="directory-')
    document = json.loads(response.get_data(as_text=True))
    assert [o["name"] for o in document["organizations"]] == ["Association Paris"]
    csv_response = client.get("/directory/export.csv")
    assert csv_response.mimetype == "text/csv" and "Legal clinic" in csv_response.get_data(as_text=True)
    response = client.post(
        "/directory/import",
        data={"file": (io.BytesIO(response.get_data()), "directory.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert "Imported: 0 organisations and 0 services created" in client.get("/directory/organisations").get_data(
        as_text=True
    )
