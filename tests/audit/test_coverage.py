"""Every endpoint that touches case data writes the audit entry that says so.

One row per (endpoint, method): who acts, the request, and the entries it must write. The
test performs the request as a user allowed to, then finds each expected entry written by
that user during the request and, when the endpoint is about one case, tied to that
case's trail (``case_id``). No entry may carry the person's name or any free text typed.

A guard walks the URL map: every endpoint whose rule names a case, person,
identification record, referral, consent, note or task, and every endpoint of the case
areas, must have a row here, so a new case-data endpoint fails until it gets one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import MemberState, User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.audit.services import verify_chain
from app.cases import work
from app.cases.models import Case, PossibleDuplicate
from app.cases.vocabulary import DocumentType, EncounterContext, RiskLevel
from app.core.db import utcnow
from app.extensions import db
from app.identification import records
from app.identification.vocabulary import ExploitationForm
from app.privacy import services as privacy
from app.privacy.models import GivenBy
from app.referrals import services as referral_services
from app.referrals.models import Referral
from tests.factories import (
    make_agency,
    make_case,
    make_focal_point,
    make_organization,
    make_referral,
    make_service,
    make_user,
    new_totp_secret,
    sign_in_directly,
)

CASE_VARIABLES = {"case_id", "referral_id", "record_id", "person_id", "consent_id", "note_id", "task_id"}
CASE_AREAS = ("cases.", "referrals.", "identifications.", "privacy.")

# Typed about the person while the world is made or by the requests: never in the trail.
FAMILY_NAME = "Zyxwvutsrq"
SECRETS = (
    FAMILY_NAME,
    "Ilinca",  # given names
    "RO9988776",  # document number
    "Watched by the employer",  # risk note
    "Rue des Lilas",  # place
    "Sister lives in Iasi",  # a note
    "Call the lawyer",  # a task
    "Explained in Romanian",  # what was explained at consent
    "Bed for tonight",  # a referral's purpose
    "Found at the station",  # an amendment
    "Officer on night duty found her",  # a break-glass justification
    "Court hearing",  # why the receiving side asks for identification details
)


@dataclass
class World:
    users: dict[str, int]  # actor key -> user id
    case_id: str
    case_reference: str
    case_version: int
    draft_id: str
    record_id: str  # the submitted identification that opened the case
    consent_id: str
    task_id: str
    referral_id: str
    referral_version: int
    second_service_id: str  # covered by consent, no referral yet
    duplicate_id: int
    abroad_referral_id: str  # pseudonymised, to Romania, approved: at the Romanian focal point
    abroad_version: int
    abroad_service_id: str
    asked_referral_id: str  # the same, whose identification details the Romanian side asked for
    asked_version: int


def _identification() -> records.IdentificationData:
    return records.IdentificationData(
        encounter_at=utcnow() - timedelta(days=1),
        encounter_country="FR",
        place="Rue des Lilas",
        context=EncounterContext.LABOUR_INSPECTION,
        interpreter_used=False,
        given_names="Ilinca",
        family_name=FAMILY_NAME,
        aliases="",
        date_of_birth=datetime(1995, 3, 2).date(),
        estimated_age=None,
        age_estimation=None,
        may_be_child=False,
        gender=None,
        citizenships=["RO"],
        languages=["ro"],
        document_type=DocumentType.PASSPORT,
        document_number="RO9988776",
        contact_details="",
        forms=[ExploitationForm.FORCED_LABOUR],
        accommodation_tonight=True,
        risk_level=RiskLevel.HIGH,
        risk_note="Watched by the employer",
    )


def build_world() -> World:
    """A French case opened by an identification, with consent, a task, a sent referral, a
    possible duplicate; and the staff around it (committed)."""
    police = make_agency("FR", AgencyKind.POLICE, name="Police Lyon")
    shelter = make_agency("FR", AgencyKind.SHELTER, name="Shelter Lyon")
    ngo = make_agency("FR", AgencyKind.NGO_SUPPORT, name="Support Lyon")
    focal = make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT, name="Focal point")
    elsewhere = make_agency("FR", AgencyKind.POLICE, name="Police Paris")
    users = {
        "frontline": make_user(Role.FRONTLINE, police, totp_secret=new_totp_secret()),
        "caseworker": make_user(Role.CASEWORKER, shelter, totp_secret=new_totp_secret()),
        "focal_point": make_user(Role.FOCAL_POINT, focal, totp_secret=new_totp_secret()),
        "supervisor": make_user(Role.SUPERVISOR, police, totp_secret=new_totp_secret()),
        "outsider": make_user(Role.FRONTLINE, elsewhere, totp_secret=new_totp_secret()),
        "ro_focal": make_focal_point("RO"),
    }
    db.session.get(MemberState, "FR").focal_point_agency_id = focal.id
    romanian = make_agency("RO", AgencyKind.SHELTER, name="Shelter Iasi")
    officer = users["frontline"]
    submitted = records.start_draft(officer)
    case = records.submit(officer, submitted, _identification()).case
    draft = records.start_draft(officer)
    shelter_service = make_service(make_organization(shelter))
    second_service = make_service(make_organization(ngo))
    consent = privacy.record_consent(
        officer,
        case,
        privacy.ConsentData(
            given_by=GivenBy.PERSON,
            given_on=utcnow().date(),
            language="ro",
            assistance_referral=True,
            data_sharing=True,
            cross_border=True,
            explained="Explained in Romanian",
            recipients="",
            organization_ids=[shelter_service.organization_id, second_service.organization_id],
        ),
    )
    task = work.add_task(officer, case, "Call the lawyer", utcnow().date() + timedelta(days=3))
    db.session.commit()
    referral: Referral = make_referral(officer, case, shelter_service)  # type: ignore[assignment]
    other_case: Case = make_case(elsewhere)  # type: ignore[assignment]
    duplicate = PossibleDuplicate(
        member_state_code="FR", case_id=case.id, other_case_id=other_case.id, matched_on="name"
    )
    db.session.add(duplicate)
    db.session.commit()
    romanian_organization = make_organization(romanian)
    abroad, asked = (
        make_referral(officer, case, make_service(romanian_organization), pseudonymised=True) for _ in range(2)
    )
    for sent in (abroad, asked):
        referral_services.transition(users["focal_point"], sent, "approve", version=sent.version)
    referral_services.request_identity(users["ro_focal"], asked, "Court hearing", version=asked.version)
    db.session.commit()
    return World(
        users={key: user.id for key, user in users.items()},
        case_id=case.id,
        case_reference=case.reference,
        case_version=case.version,
        draft_id=draft.id,
        record_id=submitted.id,
        consent_id=consent.id,
        task_id=task.id,
        referral_id=referral.id,
        referral_version=referral.version,
        second_service_id=second_service.id,
        duplicate_id=duplicate.id,
        abroad_referral_id=abroad.id,
        abroad_version=abroad.version,
        abroad_service_id=abroad.service_id,
        asked_referral_id=asked.id,
        asked_version=asked.version,
    )


Check = Callable[[AuditEntry, World], bool]


@dataclass(frozen=True)
class Row:
    endpoint: str
    actor: str  # a key of World.users
    method: str
    url: Callable[[World], str]
    actions: tuple[str, ...]
    form: Callable[[World], dict[str, Any]] | None = None
    about_case: bool = True  # each expected entry carries the world's case_id
    check: Check | None = None  # anything else the last expected entry must say


def _shows_case(entry: AuditEntry, world: World) -> bool:
    return world.case_id in entry.details["shown"]


def _shows_referral(entry: AuditEntry, world: World) -> bool:
    return world.referral_id in entry.details["shown"]


def _today_plus(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


ROWS: tuple[Row, ...] = (
    Row(
        "cases.my_cases",
        "frontline",
        "GET",
        lambda w: "/cases/",
        ("case.list_viewed",),
        about_case=False,
        check=_shows_case,
    ),
    Row("cases.detail", "frontline", "GET", lambda w: f"/cases/{w.case_id}", ("case.viewed",)),
    Row(
        "cases.change_status",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/status",
        ("case.start_assistance",),
        form=lambda w: {"action": "start_assistance", "reason": "", "version": w.case_version},
        check=lambda e, w: e.details["changes"]["status"] == {"from": "open", "to": "assisting"},
    ),
    Row(
        "cases.add_note",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/notes",
        ("note.added",),
        form=lambda w: {"text": "Sister lives in Iasi", "visibility": "agency"},
    ),
    Row(
        "cases.add_task",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/tasks",
        ("task.added",),
        form=lambda w: {"title": "Call the lawyer again", "due_on": _today_plus(2)},
    ),
    Row(
        "cases.complete_task",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/tasks/{w.task_id}/done",
        ("task.done",),
        form=lambda w: {},
        check=lambda e, w: e.object_id == w.task_id and e.details["changes"]["done_at"]["from"] is None,
    ),
    Row(
        "cases.duplicates",
        "focal_point",
        "GET",
        lambda w: "/cases/duplicates",
        ("duplicate.list_viewed",),
        about_case=False,
        check=lambda e, w: any(w.case_id in pair for pair in e.details["shown"]),
    ),
    Row(
        "cases.decide_duplicate",
        "focal_point",
        "POST",
        lambda w: f"/cases/duplicates/{w.duplicate_id}",
        ("duplicate.linked",),
        form=lambda w: {"decision": "link"},
        check=lambda e, w: e.details["changes"]["status"] == {"from": "open", "to": "linked"},
    ),
    Row(
        "privacy.record_consent",
        "frontline",
        "GET",
        lambda w: f"/cases/{w.case_id}/consent/new",
        ("consent.form_viewed",),
    ),
    Row(
        "privacy.record_consent",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/consent/new",
        ("consent.recorded",),
        form=lambda w: {
            "given_by": "person",
            "given_on": utcnow().date().isoformat(),
            "language": "ro",
            "assistance_referral": "y",
            "explained": "Explained in Romanian",
        },
    ),
    Row(
        "privacy.withdraw",
        "frontline",
        "POST",
        lambda w: f"/cases/{w.case_id}/consent/{w.consent_id}/withdraw",
        ("consent.withdrawn",),
        form=lambda w: {"withdrawn_on": utcnow().date().isoformat()},
        check=lambda e, w: e.object_id == w.consent_id and "withdrawn_on" in e.details["changes"],
    ),
    Row(
        "identifications.new",
        "frontline",
        "POST",
        lambda w: "/identifications/new",
        ("identification.draft_started",),
        form=lambda w: {},
        about_case=False,  # a draft belongs to no case yet
    ),
    Row(
        "identifications.edit",
        "frontline",
        "GET",
        lambda w: f"/identifications/{w.draft_id}",
        ("identification.draft_viewed",),
        about_case=False,
        check=lambda e, w: e.object_id == w.draft_id,
    ),
    Row(
        "identifications.edit",
        "frontline",
        "POST",
        lambda w: f"/identifications/{w.draft_id}",
        ("identification.draft_saved",),
        form=lambda w: {"family_name": FAMILY_NAME, "action": "save"},
        about_case=False,
        check=lambda e, w: e.object_id == w.draft_id,
    ),
    Row(
        "identifications.amend",
        "frontline",
        "GET",
        lambda w: f"/identifications/{w.record_id}/amend",
        ("identification.viewed",),
        check=lambda e, w: e.object_id == w.record_id,
    ),
    Row(
        "identifications.amend",
        "frontline",
        "POST",
        lambda w: f"/identifications/{w.record_id}/amend",
        ("identification.amended",),
        form=lambda w: {
            "reason": "Found at the station",
            "place": "Rue des Lilas",
            "risk_level": "high",
            "risk_note": "Watched by the employer",
            "observations": "Found at the station",
            "accommodation_tonight": "y",
        },
        check=lambda e, w: e.details["changes"] == {"observations": {"from": None, "to": "***"}},
    ),
    Row(
        "referrals.new",
        "frontline",
        "GET",
        lambda w: f"/referrals/new/{w.case_id}",
        ("referral.form_viewed",),
        check=lambda e, w: w.second_service_id in e.details["suggested"],
    ),
    Row(
        "referrals.new",
        "frontline",
        "POST",
        lambda w: f"/referrals/new/{w.case_id}",
        ("referral.created", "referral.send"),
        form=lambda w: {
            "service_id": w.second_service_id,
            "purpose": "Bed for tonight",
            "urgency": "urgent",
            "shared_parts": ["profile", "needs"],
            "legal_basis": "consent",
            "action": "send",
        },
    ),
    Row(
        "referrals.inbox",
        "caseworker",
        "GET",
        lambda w: "/referrals/inbox",
        ("referral.inbox_viewed",),
        about_case=False,
        check=_shows_referral,
    ),
    Row(
        "referrals.sent",
        "frontline",
        "GET",
        lambda w: "/referrals/sent",
        ("referral.list_viewed",),
        about_case=False,
        check=_shows_referral,
    ),
    Row(
        "referrals.detail",
        "caseworker",
        "GET",
        lambda w: f"/referrals/{w.referral_id}",
        ("referral.shared_viewed",),
        check=lambda e, w: e.object_id == w.referral_id,
    ),
    Row(
        "referrals.detail",
        "frontline",
        "GET",
        lambda w: f"/referrals/{w.referral_id}",
        ("referral.viewed",),
        check=lambda e, w: e.object_id == w.referral_id and e.details["side"] == "sender",
    ),
    Row(
        "referrals.act",
        "caseworker",
        "POST",
        lambda w: f"/referrals/{w.referral_id}/acknowledge",
        ("referral.acknowledge",),
        form=lambda w: {"version": w.referral_version},
        check=lambda e, w: e.details["changes"]["status"] == {"from": "sent", "to": "acknowledged"},
    ),
    Row(
        "referrals.desk",
        "focal_point",
        "GET",
        lambda w: "/referrals/desk",
        ("referral.desk_viewed",),
        about_case=False,
        check=lambda e, w: w.abroad_referral_id in e.details["shown"],
    ),
    Row(
        "referrals.detail",
        "ro_focal",
        "GET",
        lambda w: f"/referrals/{w.abroad_referral_id}",
        ("referral.shared_viewed",),
        check=lambda e, w: e.object_id == w.abroad_referral_id and e.details["pseudonymised"] is True,
    ),
    Row(
        "referrals.act",
        "ro_focal",
        "POST",
        lambda w: f"/referrals/{w.abroad_referral_id}/route",
        ("referral.route",),
        form=lambda w: {"version": w.abroad_version, "service_id": w.abroad_service_id},
        check=lambda e, w: e.details["changes"]["status"] == {"from": "focal_point_routing", "to": "sent"},
    ),
    Row(
        "referrals.request_identity",
        "ro_focal",
        "POST",
        lambda w: f"/referrals/{w.abroad_referral_id}/identity/request",
        ("referral.identity_requested",),
        form=lambda w: {"version": w.abroad_version, "reason": "Court hearing next week"},
        check=lambda e, w: e.object_id == w.abroad_referral_id and e.details["side"] == "receiving_fp",
    ),
    Row(
        "referrals.decide_identity",
        "frontline",
        "POST",
        lambda w: f"/referrals/{w.asked_referral_id}/identity/release",
        ("referral.identity_released",),
        form=lambda w: {"version": w.asked_version},
        check=lambda e, w: e.object_id == w.asked_referral_id,
    ),
    Row(
        "audit.case_trail",
        "supervisor",
        "GET",
        lambda w: f"/audit/cases/{w.case_id}",
        ("audit.case_trail_viewed",),
    ),
    Row(
        "audit.export",
        "supervisor",
        "POST",
        lambda w: "/audit/export",
        ("audit.exported",),
        form=lambda w: {"format": "json", "case_reference": w.case_reference},
        about_case=False,
        check=lambda e, w: e.details["filter"] == {"case_reference": w.case_reference},
    ),
    Row(
        "emergency.request_access",
        "outsider",
        "POST",
        lambda w: "/emergency-access/",
        ("break_glass.granted",),
        form=lambda w: {
            "reference": w.case_reference,
            "justification": "Officer on night duty found her at the station, needs history",
        },
    ),
)


def _row_id(row: Row) -> str:
    return f"{row.endpoint} {row.method} as {row.actor}"


def test_every_case_data_endpoint_has_a_row(app: Flask) -> None:
    covered = {row.endpoint for row in ROWS}
    required = set()
    for rule in app.url_map.iter_rules():
        if rule.arguments & CASE_VARIABLES or rule.endpoint.startswith(CASE_AREAS):
            required.add(rule.endpoint)
    assert required - covered == set(), "add a row to ROWS for each new endpoint that touches case data"
    assert covered - {rule.endpoint for rule in app.url_map.iter_rules()} == set(), "remove rows of gone endpoints"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_endpoint_writes_its_audit_entry(app: Flask, row: Row) -> None:
    with app.app_context():
        world = build_world()
        actor = db.session.get(User, world.users[row.actor])
        assert actor is not None
        client = app.test_client()
        sign_in_directly(client, actor)
        before = db.session.execute(select(func.coalesce(func.max(AuditEntry.seq), 0))).scalar_one()
        url = row.url(world)
        data = row.form(world) if row.form is not None else None
    # The request runs in its own context: what it did not commit is gone afterwards.
    response = client.open(url, method=row.method, data=data)
    assert response.status_code in (200, 302), f"{row.method} {url}: {response.status_code}"
    if response.status_code == 302:
        assert "/sign-in" not in response.headers["Location"]
    with app.app_context():
        written = list(
            db.session.execute(select(AuditEntry).where(AuditEntry.seq > before).order_by(AuditEntry.seq)).scalars()
        )
        for action in row.actions:
            mine = [e for e in written if e.action == action and e.actor_id == actor.id]
            assert mine, (
                f"{row.endpoint} wrote no {action!r} entry by the actor; it wrote {[e.action for e in written]}"
            )
            entry = mine[-1]
            if row.about_case:
                assert entry.case_id == world.case_id, f"{action} is not on the case's trail"
            if row.check is not None:
                assert row.check(entry, world), f"{action}: {entry.details}"
        for entry in written:
            assert not any(secret in entry.payload for secret in SECRETS), f"personal data in {entry.action}"
        assert verify_chain().ok
