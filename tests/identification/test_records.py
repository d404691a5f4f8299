"""Identification records: drafts that keep what was typed, the assessment preview, submission."""

from __future__ import annotations

import html
import json
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.cases.models import Case, Person
from app.extensions import db
from app.identification.models import IdentificationRecord, RecordStatus
from tests.factories import make_agency, make_case, make_user, sign_in_directly

STRONG = [
    "adult_labour.deceived_nature_of_job",
    "adult_labour.deceived_wages",
    "adult_labour.excessive_working_hours",
    "adult_labour.low_or_no_salary",
    "adult_labour.confiscation_of_documents_destination",
    "adult_labour.debt_bondage_destination",
]


@pytest.fixture
def officer(app: Flask, client: FlaskClient) -> User:
    with app.app_context():
        user = make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.LABOUR_INSPECTORATE))
        sign_in_directly(client, user)
    return user


def start(client: FlaskClient) -> str:
    response = client.post("/identifications/new")
    assert response.status_code == 302
    return response.location.rsplit("/", 1)[-1]


def form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "encounter_date": (date.today() - timedelta(days=1)).isoformat(),
        "encounter_time": "14:30",
        "encounter_country": "FR",
        "place": "Lyon",
        "context": "labour_inspection",
        "given_names": "Ana",
        "family_name": "Popescu",
        "aliases": "",
        "date_of_birth": "1995-03-02",
        "estimated_age": "",
        "age_estimation": "document",
        "gender": "Feminine",
        "citizenships": ["RO"],
        "languages": ["ro"],
        "document_type": "passport",
        "document_number": "RO1234567",
        "contact_details": "",
        "forms_of_exploitation": ["forced_labour"],
        "indicators": STRONG,
        "risk_level": "high",
        "risk_note": "Employer watches the house",
        "observations": "",
        "accommodation_tonight": "y",
    }
    data.update(overrides)
    return data


def test_submission_opens_a_case_with_encrypted_person(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    preview = client.post(f"/identifications/{record_id}", data={**form(), "action": "preview"})
    body = html.unescape(preview.get_data(as_text=True))
    assert "Indicators of trafficking present: presumed victim, refer for assistance" in body
    assert "Adult rules applied." in body
    done = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"})
    assert done.status_code == 302 and done.location.startswith("/cases/")
    page = html.unescape(client.get(done.location).get_data(as_text=True))
    assert "Ana Popescu" in page and "presumed victim" in page
    with app.app_context():
        row = db.session.get(IdentificationRecord, record_id)
        assert row.status == RecordStatus.SUBMITTED and row.draft is None and row.level == 2
        case = db.session.get(Case, row.case_id)
        assert case.owner_agency_id == officer.agency_id and not case.presumed_child
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT family_name, document_number FROM person")).one()
            assert "Popescu" not in stored[0] and stored[0].startswith("v1:")  # encrypted at rest
            content = conn.execute(text("SELECT content FROM identification")).scalar_one()
            assert "Lyon" not in content
        person = db.session.get(Person, case.person_id)
        assert person.family_name == "Popescu" and person.name_index and person.document_index
        actions = set(db.session.execute(select(AuditEntry.action)).scalars())
        assert {"identification.submitted", "case.opened", "case.viewed"} <= actions
    listing = client.get("/cases/").get_data(as_text=True)
    assert case.reference in listing


def test_uncertain_age_applies_child_rules(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    child_form = form(
        date_of_birth="",
        estimated_age="",
        age_estimation="",
        may_be_child="y",
        forms_of_exploitation=["forced_labour"],
        indicators=[],
    )
    response = client.post(f"/identifications/{record_id}", data={**child_form, "action": "save"})
    body = html.unescape(response.get_data(as_text=True))
    assert "Child rules apply." in body
    assert "child_labour." in body and "adult_labour." not in body  # only the relevant sets are shown


def test_bad_input_is_explained_and_kept_in_the_draft(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    late_birth = client.post(
        f"/identifications/{record_id}", data={**form(date_of_birth=date.today().isoformat()), "action": "submit"}
    )
    assert "The date of birth must be before the encounter." in html.unescape(late_birth.get_data(as_text=True))
    unknown = client.post(
        f"/identifications/{record_id}", data={**form(indicators=["adult_labour.made_up"]), "action": "submit"}
    )
    assert "not in this record's catalogue version" in html.unescape(unknown.get_data(as_text=True))
    country = client.post(f"/identifications/{record_id}", data={**form(encounter_country="ZZ"), "action": "submit"})
    assert "Not a valid choice" in country.get_data(as_text=True)
    future = (date.today() + timedelta(days=3)).isoformat()
    response = client.post(
        f"/identifications/{record_id}",
        data={**form(encounter_date=future, family_name="Kept Name"), "action": "submit"},
    )
    body = html.unescape(response.get_data(as_text=True))
    assert "The encounter cannot be in the future." in body and 'value="Kept Name"' in body
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
        assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 0
    # the draft survives sign-out and comes back as typed
    client.post("/sign-out")
    with app.app_context():
        sign_in_directly(client, db.session.get(User, officer.id))
        saved = json.loads(db.session.get(IdentificationRecord, record_id).draft)
        assert saved["family_name"] == ["Kept Name"]
    again = client.get(f"/identifications/{record_id}").get_data(as_text=True)
    assert 'value="Kept Name"' in again


def test_tampered_officer_or_agency_fields_are_ignored(app: Flask, client: FlaskClient, officer: User) -> None:
    with app.app_context():
        elsewhere = make_agency("DE", AgencyKind.POLICE)
    record_id = start(client)
    client.post(
        f"/identifications/{record_id}",
        data={**form(), "agency_id": elsewhere.id, "officer_id": 999, "action": "submit"},
    )
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        assert case.owner_agency_id == officer.agency_id and case.member_state_code == "FR"


def test_other_officers_cannot_open_a_draft_and_submitted_records_are_locked(
    app: Flask, client: FlaskClient, officer: User
) -> None:
    record_id = start(client)
    other = app.test_client()
    with app.app_context():
        sign_in_directly(other, make_user(Role.FRONTLINE, db.session.get(User, officer.id).agency))
    assert other.get(f"/identifications/{record_id}").status_code == 404
    client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"})
    assert client.get(f"/identifications/{record_id}").status_code == 404
    again = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"})
    assert again.status_code == 404
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 1


def test_cases_are_visible_to_own_agency_and_the_focal_point(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    case_url = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"}).location
    with app.app_context():
        colleague_elsewhere = make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.POLICE))
        focal_fr = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
        focal_de = make_user(Role.FOCAL_POINT, make_agency("DE", AgencyKind.NATIONAL_FOCAL_POINT))
    for user, status in ((colleague_elsewhere, 404), (focal_fr, 200), (focal_de, 404)):
        viewer = app.test_client()
        with app.app_context():
            sign_in_directly(viewer, db.session.get(User, user.id))
        assert viewer.get(case_url).status_code == status
        listed = case_url.rsplit("/", 1)[-1] in viewer.get("/cases/").get_data(as_text=True)
        assert listed is (status == 200)  # the list never shows what the detail page refuses


def test_a_record_keeps_its_catalogue_version_after_a_new_one_is_loaded(
    app: Flask, client: FlaskClient, officer: User
) -> None:
    from app.identification import services
    from app.identification.catalogue import BUNDLED

    record_id = start(client)
    case_url = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"}).location
    with app.app_context():
        focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
        national = (
            BUNDLED.read_text()
            .replace('version: "2009.1"', 'version: "2027.1"')
            .replace("Deceived about the nature of the job, location or employer", "Renamed in the national version")
        )
        services.load_catalogue(focal, "FR", national.encode())
        db.session.commit()
    page = html.unescape(client.get(case_url).get_data(as_text=True))
    assert "ilo-ec-2009@2009.1" in page
    assert "Deceived about the nature of the job, location or employer" in page
    new_record = start(client)
    assert "ilo-ec-2009@2027.1" in client.get(f"/identifications/{new_record}").get_data(as_text=True)


def test_an_adult_who_does_not_consent_is_counted_anonymously(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    data = form(anonymous="y", indicators={}, **{"note-adult_labour.deceived_wages": "lives at 3 rue X"})
    data["indicators"] = STRONG
    response = client.post(f"/identifications/{record_id}", data={**data, "action": "submit"})
    assert response.status_code == 302
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert "Anonymous notification" in page and "Popescu" not in page
    with app.app_context():
        person = db.session.execute(select(Person)).scalar_one()
        assert person.anonymous and person.family_name is None and person.name_index is None
        assert person.citizenships == ["RO"]  # still counted by citizenship
        content = json.loads(db.session.get(IdentificationRecord, record_id).content)
        assert "Popescu" not in json.dumps(content) and "rue X" not in json.dumps(content)
        assert "Lyon" not in json.dumps(content) and content["indicators"]


def test_a_child_cannot_be_recorded_anonymously(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    data = form(anonymous="y", date_of_birth="", may_be_child="y", indicators=[])
    response = client.post(f"/identifications/{record_id}", data={**data, "action": "submit"})
    assert "A child cannot be recorded anonymously" in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 0


def test_corrections_are_amendments_with_a_reason_and_the_original_stays(
    app: Flask, client: FlaskClient, officer: User
) -> None:
    record_id = start(client)
    case_url = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"}).location
    amend_url = f"/identifications/{record_id}/amend"
    page = client.get(amend_url).get_data(as_text=True)
    assert 'value="Lyon"' in page  # current values prefilled
    no_reason = client.post(amend_url, data={"reason": "", "place": "Villeurbanne", "risk_level": "high"})
    assert "Say why the record is corrected." in html.unescape(no_reason.get_data(as_text=True))
    unchanged = client.post(
        amend_url,
        data={
            "reason": "typo",
            "place": "Lyon",
            "risk_level": "high",
            "risk_note": "Employer watches the house",
            "accommodation_tonight": "y",
        },
    )
    assert "Nothing was changed." in unchanged.get_data(as_text=True)
    done = client.post(
        amend_url,
        data={
            "reason": "Wrong town noted",
            "place": "Villeurbanne",
            "risk_level": "medium",
            "risk_note": "Employer watches the house",
            "observations": "Scar on the left hand",
            "accommodation_tonight": "y",
        },
    )
    assert done.status_code == 302
    case_page = html.unescape(client.get(case_url).get_data(as_text=True))
    assert "Lyon" in case_page and "Villeurbanne" in case_page and "Wrong town noted" in case_page
    with app.app_context():
        original = json.loads(db.session.get(IdentificationRecord, record_id).content)
        assert original["place"] == "Lyon"  # the submitted record is untouched
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "identification.amended")).scalar_one()
        assert entry.case_id == case_url.rsplit("/", 1)[-1]
        assert entry.details["fields"] == ["observations", "place", "risk_level"]
        assert entry.details["changes"] == {
            "observations": {"from": None, "to": "***"},  # free text about the person: masked
            "place": {"from": "***", "to": "***"},
            "risk_level": {"from": "***", "to": "***"},  # about the person: masked too
        }
        with db.engine.connect() as conn:
            payloads = " ".join(conn.execute(text("SELECT payload FROM audit_entry")).scalars())
        for typed in ("Lyon", "Villeurbanne", "Scar on the left hand", "Wrong town noted", "Popescu", "RO1234567"):
            assert typed not in payloads
    outsider = app.test_client()
    with app.app_context():
        sign_in_directly(outsider, make_user(Role.FRONTLINE, make_agency("FR", AgencyKind.POLICE)))
    assert outsider.get(amend_url).status_code == 404


def test_a_person_met_again_is_added_to_the_existing_case(app: Flask, client: FlaskClient, officer: User) -> None:
    first = start(client)
    case_url = client.post(
        f"/identifications/{first}", data={**form(indicators=["adult_labour.deceived_wages"]), "action": "submit"}
    ).location
    case_id = case_url.rsplit("/", 1)[-1]
    with app.app_context():
        assert db.session.get(Case, case_id).level == 1  # some indicators only
    second = start(client)
    assert case_id in client.get(f"/identifications/{second}").get_data(as_text=True)  # offered
    again = client.post(f"/identifications/{second}", data={**form(), "existing_case": case_id, "action": "submit"})
    assert again.location == case_url
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.level == 2 and case.reasonable_grounds_on is not None
        assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 1
        assert (
            db.session.execute(
                select(func.count()).select_from(IdentificationRecord).where(IdentificationRecord.case_id == case_id)
            ).scalar_one()
            == 2
        )
    with app.app_context():
        elsewhere = make_case(make_agency("FR", AgencyKind.POLICE))
    third = start(client)
    refused = client.post(
        f"/identifications/{third}", data={**form(), "existing_case": elsewhere.id, "action": "submit"}
    )
    assert "Not a valid choice" in refused.get_data(as_text=True)  # cases the officer cannot see are not offered


def test_every_view_of_identifying_data_is_recorded(app: Flask, client: FlaskClient, officer: User) -> None:
    record_id = start(client)
    client.get(f"/identifications/{record_id}")
    case_url = client.post(f"/identifications/{record_id}", data={**form(), "action": "submit"}).location
    client.get(case_url)
    client.get("/cases/")
    client.get(f"/identifications/{record_id}/amend")
    with app.app_context():
        logged = list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())
    for action in (
        "identification.draft_viewed",
        "identification.submitted",
        "case.viewed",
        "case.list_viewed",
        "identification.viewed",
    ):
        assert action in logged, action
