"""HSDS export and import: lossless round trips in JSON and CSV, and imports with broken
rows reported by line number while nothing at all is imported."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.directory import hsds
from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType, TargetGroup
from app.extensions import db
from tests.factories import make_agency, make_organization, make_service, make_user


def counts() -> tuple[int, int]:
    return (
        db.session.execute(select(func.count()).select_from(Organization)).scalar_one(),
        db.session.execute(select(func.count()).select_from(Service)).scalar_one(),
    )


def everything() -> list[Organization]:
    db.session.expire_all()
    return list(db.session.execute(select(Organization).order_by(Organization.name)).scalars())


def without_generated_at(text: str) -> dict[str, Any]:
    document = json.loads(text)
    document.pop("generated_at")
    return document


@pytest.fixture
def admin(ctx) -> User:
    return make_user(Role.SYSTEM_ADMIN)


@pytest.fixture
def directory(admin) -> list[Organization]:
    """Two countries, a linked and an unlinked organisation, every kind of field filled."""
    shelter = make_agency("FR", AgencyKind.SHELTER)
    linked = make_organization(shelter, name="Maison Sûre")
    linked.description = 'Refuge for women, "quoted", with a line\nbreak'
    linked.email = "contact@maison.example"
    linked.website = "https://maison.example/fr"
    make_service(
        linked,
        name="Safe house",
        service_type=ServiceType.SAFE_ACCOMMODATION,
        region="Île-de-France",
        languages=["fr", "en", "ar"],
        target_groups=[TargetGroup.WOMEN.value, TargetGroup.FAMILIES.value],
        eligibility="Women presumed victims",
        opening_hours="",
        always_open=True,
        phone="+33123456789",
        email="beds@maison.example",
        capacity_unit="beds",
        capacity_available=3,
        capacity_maximum=10,
        capacity_updated_at=utcnow() - timedelta(hours=2),
    )
    make_service(
        linked,
        name="=HYPERLINK formula-looking name",
        service_type=ServiceType.COUNSELLING,
        opening_hours="Mon-Fri 9:00-17:00",
        active=False,
    )
    other = make_organization(country="DE", name="Beratung Berlin")
    make_service(other, name="Legal advice", service_type=ServiceType.LEGAL_AID, languages=["de"], phone="+4930123456")
    make_organization(country="RO", name="No services yet")
    db.session.commit()
    return everything()


def test_json_export_is_hsds_shaped(directory) -> None:
    document = json.loads(hsds.export_json(directory))
    assert document["hsds_version"] == "3.1" and document["taxonomy"] == "victim-referral"
    maison = next(o for o in document["organizations"] if o["name"] == "Maison Sûre")
    assert {"id", "name", "description", "email", "website", "services"} <= maison.keys()
    assert maison["x-victim-referral"] == {"member_state_code": "FR", "active": True}
    safe = next(s for s in maison["services"] if s["name"] == "Safe house")
    assert safe["status"] == "active" and safe["organization_id"] == maison["id"]
    assert [language["code"] for language in safe["languages"]] == ["fr", "en", "ar"]
    assert safe["phones"][0]["number"] == "+33123456789"
    assert safe["service_areas"][0]["extent"] == "FR" and safe["service_areas"][0]["name"] == "Île-de-France"
    assert safe["schedules"][0]["byday"] == "MO,TU,WE,TH,FR,SA,SU"
    capacity = safe["capacities"][0]
    assert (capacity["available"], capacity["maximum"], capacity["unit"]["name"]) == (3, 10, "beds")
    assert capacity["updated"].endswith("Z")
    terms = {(a["link_type"], a["taxonomy_term"]["code"]) for a in safe["attributes"]}
    assert terms == {("service_type", "safe_accommodation"), ("target_group", "women"), ("target_group", "families")}
    assert all(a["taxonomy_term"]["taxonomy"] == "victim-referral" for a in safe["attributes"])
    assert safe["attributes"][0]["taxonomy_term"]["name"] == "Safe accommodation"


def test_json_round_trip_recreates_the_same_directory(admin, directory) -> None:
    first = hsds.export_json(directory)
    db.session.execute(delete(Service))
    db.session.execute(delete(Organization))
    db.session.commit()
    report = hsds.import_json(admin, first)
    assert report.ok, report.errors
    assert (report.organizations_created, report.services_created) == (3, 3)
    db.session.commit()
    assert without_generated_at(hsds.export_json(everything())) == without_generated_at(first)


def test_csv_round_trip_recreates_the_same_directory(admin, directory) -> None:
    first = hsds.export_csv(directory)
    db.session.execute(delete(Service))
    db.session.execute(delete(Organization))
    db.session.commit()
    report = hsds.import_csv(admin, first.encode())
    assert report.ok, report.errors
    db.session.commit()
    assert hsds.export_csv(everything()) == first
    names = {s.name for o in everything() for s in o.services}
    assert "=HYPERLINK formula-looking name" in names  # the ' that guards spreadsheets is undone


def test_csv_export_has_one_row_per_service_and_guards_formulas(directory) -> None:
    rows = list(csv.DictReader(io.StringIO(hsds.export_csv(directory))))
    assert len(rows) == 4  # three services, and a row for the organisation without any
    assert tuple(rows[0].keys()) == hsds.CSV_COLUMNS
    formula = next(r for r in rows if "HYPERLINK" in r["service_name"])
    assert formula["service_name"].startswith("'=") and formula["service_status"] == "inactive"
    safe = next(r for r in rows if r["service_name"] == "Safe house")
    assert safe["service_phone"] == "+33123456789"  # a phone number is not a formula
    assert safe["service_languages"] == "fr;en;ar" and safe["service_always_open"] == "true"
    assert (safe["capacity_available"], safe["capacity_maximum"], safe["capacity_unit"]) == ("3", "10", "beds")


def test_importing_the_same_file_again_changes_nothing(admin, directory) -> None:
    exported = hsds.export_json(directory)
    versions = {s.id: s.version for o in directory for s in o.services}
    report = hsds.import_json(admin, exported)
    db.session.commit()
    assert report.ok
    assert (report.organizations_created, report.organizations_updated) == (0, 0)
    assert (report.services_created, report.services_updated, report.capacities_updated) == (0, 0, 0)
    assert {s.id: s.version for o in everything() for s in o.services} == versions
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "directory.imported")).scalar_one()
    assert entry.details["format"] == "json" and entry.details["services_updated"] == 0


def test_import_updates_by_id(admin, directory) -> None:
    document = json.loads(hsds.export_json(directory))
    maison = next(o for o in document["organizations"] if o["name"] == "Maison Sûre")
    maison["services"][0]["name"] += " II"
    report = hsds.import_json(admin, json.dumps(document))
    assert report.ok and report.services_updated == 1 and report.services_created == 0


def test_an_older_capacity_never_overwrites_a_newer_one(admin, directory) -> None:
    exported = hsds.export_json(directory)
    service = next(s for o in directory for s in o.services if s.name == "Safe house")
    service.capacity_available, service.capacity_updated_at = 7, utcnow()
    db.session.commit()
    report = hsds.import_json(admin, exported)
    db.session.commit()
    assert report.ok and report.capacities_updated == 0
    assert db.session.get(Service, service.id).capacity_available == 7  # type: ignore[union-attr]


BROKEN_JSON = """{
  "hsds_version": "3.1",
  "organizations": [
    {
      "id": "6f1d1f0e-0000-4000-8000-000000000001",
      "name": "Good organisation",
      "description": "",
      "x-victim-referral": {"member_state_code": "FR"},
      "services": [
        {
          "id": "6f1d1f0e-0000-4000-8000-0000000000a1",
          "name": "Fine service",
          "status": "active",
          "attributes": [{"link_type": "service_type",
                          "taxonomy_term": {"code": "medical", "taxonomy": "victim-referral"}}]
        },
        {
          "id": "6f1d1f0e-0000-4000-8000-0000000000a2",
          "name": "Bad phone",
          "status": "active",
          "phones": [{"number": "12345"}],
          "attributes": [{"link_type": "service_type",
                          "taxonomy_term": {"code": "medical", "taxonomy": "victim-referral"}}]
        }
      ]
    },
    {
      "id": "6f1d1f0e-0000-4000-8000-000000000002",
      "name": "",
      "x-victim-referral": {"member_state_code": "ZZ"},
      "services": [
        {
          "id": "6f1d1f0e-0000-4000-8000-0000000000b1",
          "name": "Too many guests",
          "attributes": [{"link_type": "service_type",
                          "taxonomy_term": {"code": "sauna", "taxonomy": "victim-referral"}}],
          "capacities": [{"available": 11, "maximum": 10, "unit": {"name": "beds"}}],
          "languages": [{"code": "english"}]
        }
      ]
    }
  ]
}
"""


def _line_of(text: str, marker: str) -> int:
    """The line of the ``{`` that opens the object holding ``marker``."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if marker in line)
    while lines[at].strip() != "{":
        at -= 1
    return at + 1


def test_broken_json_rows_are_reported_with_their_lines_and_nothing_is_imported(admin) -> None:
    report = hsds.import_json(admin, BROKEN_JSON)
    db.session.commit()
    assert not report.ok
    found = {(e.line, e.field) for e in report.errors}
    bad_phone = _line_of(BROKEN_JSON, '"Bad phone"')
    bad_org = _line_of(BROKEN_JSON, "000000000002")
    bad_service = _line_of(BROKEN_JSON, '"Too many guests"')
    assert (bad_phone, bad_org, bad_service) == (17, 27, 32)
    assert found == {
        (17, "phones.number"),
        (27, "name"),
        (27, "x-victim-referral.member_state_code"),
        (32, "attributes"),
        (32, "service_areas.extent"),  # no area of its own: the organisation's unknown country
        (32, "capacities.available"),
        (32, "languages"),
    }
    messages = {e.field: str(e.message) for e in report.errors}
    assert messages["capacities.available"] == "There cannot be more free places than the maximum."
    assert [e.line for e in report.errors] == sorted(e.line for e in report.errors)
    assert counts() == (0, 0)
    refusal = db.session.execute(select(AuditEntry).where(AuditEntry.action == "directory.import_refused")).scalar_one()
    assert refusal.details == {"format": "json", "errors": 7}


def test_invalid_json_is_reported_at_its_line(admin) -> None:
    report = hsds.import_json(admin, '{\n  "organizations": [\n    {"id": "x",}\n  ]\n}\n')
    assert [(e.line, str(e.message)) for e in report.errors] == [(3, "This is not valid JSON.")]


def test_json_duplicates_and_foreign_services_are_refused(admin, directory) -> None:
    document = json.loads(hsds.export_json(directory))
    organizations = document["organizations"]
    berlin = next(o for o in organizations if o["name"] == "Beratung Berlin")
    maison = next(o for o in organizations if o["name"] == "Maison Sûre")
    moved = dict(berlin["services"][0])
    maison["services"].append(moved)  # the same id twice, and under the wrong organisation
    report = hsds.import_json(admin, json.dumps(document, indent=1))
    assert {str(e.message).split(" on line")[0] for e in report.errors} == {
        "This id is already used",
        "This service is listed under another organisation.",
    }
    berlin["services"] = []
    moved.pop("organization_id")
    report = hsds.import_json(admin, json.dumps(document, indent=1))
    assert [str(e.message) for e in report.errors] == ["This service belongs to another organisation."]


CSV_HEADER = ",".join(hsds.CSV_COLUMNS)


def csv_row(**cells: str) -> str:
    values = dict.fromkeys(hsds.CSV_COLUMNS, "")
    values.update(cells)
    out = io.StringIO()
    csv.writer(out).writerow([values[name] for name in hsds.CSV_COLUMNS])
    return out.getvalue()


ORG = {
    "organization_id": "6f1d1f0e-0000-4000-8000-000000000001",
    "organization_name": "Good organisation",
    "organization_member_state": "FR",
}


def test_broken_csv_rows_are_reported_with_their_physical_lines(admin) -> None:
    text = (
        CSV_HEADER
        + "\r\n"
        + csv_row(**ORG, service_name="Fine", service_type="medical", service_description="two\nlines")  # 2-3
        + csv_row(**ORG, service_name="Bad phone", service_type="medical", service_phone="12345")  # 4
        + "\r\n"  # a blank line: skipped, but counted
        + csv_row(
            **ORG,
            service_name="Full",
            service_type="safe_accommodation",
            capacity_available="12",
            capacity_maximum="10",
        )  # 6
        + csv_row(**ORG, service_name="Typo", service_type="medicl", service_languages="fr;xx")  # 7
        + csv_row(**(ORG | {"organization_name": "Other name"}), service_name="Clash", service_type="medical")  # 8
        + csv_row(organization_id="not-a-uuid", organization_name="X", organization_member_state="FR")  # 9
    )
    report = hsds.import_csv(admin, text.encode())
    db.session.commit()
    assert {(e.line, e.field) for e in report.errors} == {
        (4, "service_phone"),
        (6, "capacity_available"),
        (7, "service_type"),
        (7, "service_languages"),
        (8, "organization_id"),
        (9, "organization_id"),
    }
    clash = next(e for e in report.errors if e.line == 8)
    assert str(clash.message) == "The organisation's details differ from those on line 2."
    assert counts() == (0, 0)


def test_csv_with_missing_columns_is_refused(admin) -> None:
    report = hsds.import_csv(admin, b"organization_id,organization_name\n1,x\n")
    assert report.errors[0].line == 1 and "service_id" in str(report.errors[0].message)


def test_csv_that_is_not_utf8_is_refused(admin) -> None:
    report = hsds.import_csv(admin, (CSV_HEADER + "\n").encode() + b"\xff\xfe\n")
    assert [(e.line, str(e.message)) for e in report.errors] == [(2, "The file must be UTF-8 text.")]


def test_csv_creates_services_without_ids(admin) -> None:
    text = (
        CSV_HEADER + "\n" + csv_row(**ORG, service_name="New", service_type="medical", service_phone="01 23 45 67 89")
    )
    report = hsds.import_csv(admin, text)
    db.session.commit()
    assert report.ok and report.services_created == 1
    service = db.session.execute(select(Service)).scalar_one()
    assert service.phone == "+33123456789" and service.organization.name == "Good organisation"


def test_focal_point_imports_only_into_own_country(ctx, directory) -> None:
    focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    report = hsds.import_json(focal, hsds.export_json(directory))
    refused = {str(e.message) for e in report.errors}
    assert refused == {"You may not change this organisation."}
    assert {e.line for e in report.errors} == {
        _line_of(hsds.export_json(directory), '"Beratung Berlin"'),
        _line_of(hsds.export_json(directory), '"No services yet"'),
    }
    own = [o for o in directory if o.member_state_code == "FR"]
    report = hsds.import_json(focal, hsds.export_json(own))
    assert report.ok
    new_abroad = CSV_HEADER + "\n" + csv_row(**(ORG | {"organization_member_state": "DE"}))
    report = hsds.import_csv(focal, new_abroad)
    assert [str(e.message) for e in report.errors] == ["You can only add entries in your own country."]


def test_agency_admin_imports_only_their_own_organisation(ctx) -> None:
    shelter = make_agency("FR", AgencyKind.SHELTER)
    admin = make_user(Role.AGENCY_ADMIN, shelter)
    ours = make_organization(shelter)
    make_service(ours, name="Ours")
    theirs = make_organization(make_agency("FR", AgencyKind.SHELTER))
    report = hsds.import_json(admin, hsds.export_json([ours]))
    assert report.ok
    report = hsds.import_json(admin, hsds.export_json([theirs]))
    assert [str(e.message) for e in report.errors] == ["You may not change this organisation."]
    report = hsds.import_csv(admin, CSV_HEADER + "\n" + csv_row(**ORG))
    assert [str(e.message) for e in report.errors] == ["You can only import the organisation of your own agency."]


def test_exportable_follows_the_management_scope(ctx, directory) -> None:
    focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    assert [o.name for o in hsds.exportable(focal)] == ["Maison Sûre"]
    assert len(hsds.exportable(make_user(Role.SYSTEM_ADMIN))) == 3
    assert hsds.exportable(make_user(Role.CASEWORKER)) == []


def test_unknown_file_types_are_refused(admin) -> None:
    report = hsds.import_file(admin, "directory.xlsx", b"PK")
    assert [str(e.message) for e in report.errors] == ["Upload a .json or a .csv file."]


def test_json_without_the_extension_keeps_the_organisations_country(admin, directory) -> None:
    document = json.loads(hsds.export_json(directory))
    for organization in document["organizations"]:
        organization.pop("x-victim-referral")
        for service in organization["services"]:
            service.pop("service_areas")
    report = hsds.import_json(admin, json.dumps(document, indent=2))
    assert report.ok, report.errors
    assert (report.organizations_updated, report.services_updated) == (0, 1)  # the Safe house lost its region
    assert [o.member_state_code for o in everything()] == ["DE", "FR", "RO"]
