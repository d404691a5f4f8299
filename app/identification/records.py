"""Services for identification records: drafts, the assessment preview, submission.

Submission creates the person (identifying fields encrypted, blind indexes for later
duplicate checks), opens a case owned by the officer's agency, and locks the record.
Agency and officer always come from the acting user, never from the form.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import MemberState, User
from app.accounts.roles import Role
from app.accounts.services import FieldError
from app.audit.services import record
from app.cases.duplicates import flag_possible_duplicates
from app.cases.models import Case, CaseEvent, Person, new_reference
from app.cases.policies import visible_cases_filter
from app.cases.vocabulary import AgeEstimation, CaseStatus, DocumentType, EncounterContext, Gender, RiskLevel
from app.core.crypto import blind_index
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.extensions import db
from app.identification.assessment import (
    Assessment,
    ChildPresumption,
    Level,
    UnknownIndicator,
    assess,
    presume_child,
)
from app.identification.catalogue import Catalogue
from app.identification.models import IdentificationRecord, RecordStatus
from app.identification.services import active_catalogue, catalogue_for_key
from app.identification.vocabulary import ExploitationForm

MAX_NOTE = 500


@dataclass
class IdentificationData:
    """A validated identification, as the form hands it to the service."""

    encounter_at: datetime
    encounter_country: str
    place: str
    context: EncounterContext
    interpreter_used: bool
    given_names: str
    family_name: str
    aliases: str
    date_of_birth: date | None
    estimated_age: int | None
    age_estimation: AgeEstimation | None
    may_be_child: bool
    gender: Gender | None
    citizenships: list[str]
    languages: list[str]
    document_type: DocumentType
    document_number: str
    contact_details: str
    forms: list[ExploitationForm]
    indicators: dict[str, str] = field(default_factory=dict)  # indicator id -> note
    medical_emergency: bool = False
    accommodation_tonight: bool = False
    interpreter_language: str = ""
    child_protection: bool = False
    risk_level: RiskLevel = RiskLevel.NONE_KNOWN
    risk_note: str = ""
    observations: str = ""
    anonymous: bool = False  # an adult who does not consent: counted, not identified

    def child(self) -> ChildPresumption:
        return presume_child(
            on=self.encounter_at.date(),
            date_of_birth=self.date_of_birth,
            estimated_age=self.estimated_age,
            may_be_child=self.may_be_child,
        )


def can_identify(actor: User) -> bool:
    return actor.role in (Role.FRONTLINE, Role.FOCAL_POINT)


def start_draft(actor: User) -> IdentificationRecord:
    if not can_identify(actor):
        raise PermissionDenied()
    state = actor.agency.member_state_code
    draft = IdentificationRecord(
        officer_id=actor.id,
        agency_id=actor.agency_id,
        member_state_code=state,
        catalogue_key=active_catalogue(state).key,
        status=RecordStatus.DRAFT,
    )
    draft.draft = json.dumps({})
    db.session.add(draft)
    db.session.flush()
    record("identification.draft_started", actor=actor, object_type="identification", object_id=draft.id)
    return draft


def own_draft(actor: User, record_id: str) -> IdentificationRecord:
    """A draft can be opened only by the officer who started it."""
    row = db.session.get(IdentificationRecord, record_id)
    if row is None or row.officer_id != actor.id or row.status != RecordStatus.DRAFT:
        raise NotFound()
    return row


def draft_values(row: IdentificationRecord) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(row.draft or "{}")
    return loaded


def open_draft(actor: User, row: IdentificationRecord) -> dict[str, Any]:
    """What was typed so far, for the officer's own eyes; the viewing is recorded."""
    record("identification.draft_viewed", actor=actor, object_type="identification", object_id=row.id)
    return draft_values(row)


def save_draft(actor: User, row: IdentificationRecord, values: dict[str, Any]) -> None:
    """Keep what was typed, valid or not; nothing else changes."""
    if row.officer_id != actor.id or row.status != RecordStatus.DRAFT:
        raise Conflict()
    row.draft = json.dumps(values)
    row.updated_at = utcnow()
    record("identification.draft_saved", actor=actor, object_type="identification", object_id=row.id)


def catalogue_of(row: IdentificationRecord) -> Catalogue:
    return catalogue_for_key(row.member_state_code, row.catalogue_key)


def preview(row: IdentificationRecord, data: IdentificationData) -> tuple[ChildPresumption, Assessment]:
    """The assessment the officer sees before submitting (pure: writes nothing)."""
    child = data.child()
    try:
        result = assess(catalogue_of(row), data.indicators, child=child.is_child)
    except UnknownIndicator:
        raise FieldError(
            "indicators",
            _l("Some indicators are not in this record's catalogue version. Reload the page and choose again."),
        ) from None
    return child, result


def _check(data: IdentificationData) -> None:
    now = utcnow()
    if data.encounter_at > now:
        raise FieldError("encounter_date", _l("The encounter cannot be in the future."))
    if data.date_of_birth is not None and data.date_of_birth > data.encounter_at.date():
        raise FieldError("date_of_birth", _l("The date of birth must be before the encounter."))
    known = set(db.session.execute(select(MemberState.code)).scalars())
    if data.encounter_country not in known:
        raise FieldError("encounter_country", _l("Choose a country from the list."))
    for note in data.indicators.values():
        if len(note) > MAX_NOTE:
            raise FieldError("indicators", _l("Each note can be at most %(count)s characters.", count=MAX_NOTE))


IDENTIFYING_TEXT = (
    "given_names",
    "family_name",
    "aliases",
    "document_number",
    "contact_details",
    "place",
    "risk_note",
    "observations",
)


def _without_identity(data: IdentificationData) -> IdentificationData:
    """An anonymous notification keeps what statistics need and nothing that identifies."""
    return replace(
        data,
        given_names="",
        family_name="",
        aliases="",
        document_number="",
        contact_details="",
        place="",
        risk_note="",
        observations="",
        date_of_birth=None,
        indicators=dict.fromkeys(data.indicators, ""),  # notes can identify; the ticks stay
    )


@dataclass(frozen=True)
class Submission:
    case: Case
    possible_duplicates: int  # all the officer may learn: that a match went to the focal point


def submit(
    actor: User, row: IdentificationRecord, data: IdentificationData, existing_case_id: str | None = None
) -> Submission:
    """Validate, then open a case for a new person, or add the record to a case the officer
    may see (a person met again); lock the record."""
    if row.officer_id != actor.id or row.status != RecordStatus.DRAFT:
        raise Conflict()
    _check(data)
    child, result = preview(row, data)
    if data.anonymous:
        if child.is_child:
            raise FieldError(
                "anonymous",
                _l(
                    "A child cannot be recorded anonymously: child protection must be "
                    "involved and a guardian appointed."
                ),
            )
        data = _without_identity(data)
    if existing_case_id:
        case = _existing_case(actor, existing_case_id)
        case.level = max(case.level, int(result.level))
        case.presumed_child = case.presumed_child or child.is_child
        if result.level is Level.PRESUMED_VICTIM and case.reasonable_grounds_on is None:
            case.reasonable_grounds_on = utcnow().date()
        person_id, new_person, kind = case.person_id, None, "identification.added"
    else:
        new_person = _new_person(row, data)
        case = Case(
            reference=new_reference(row.member_state_code, data.encounter_at.year),
            member_state_code=row.member_state_code,
            owner_agency_id=actor.agency_id,
            assigned_user_id=actor.id,
            person_id=new_person.id,
            status=CaseStatus.OPEN,
            presumed_child=child.is_child,
            level=int(result.level),
            reasonable_grounds_on=utcnow().date() if result.level is Level.PRESUMED_VICTIM else None,
        )
        db.session.add(case)
        person_id, kind = new_person.id, "case.opened"
    db.session.flush()
    content = asdict(data)
    content["child_reasons"] = [r.value for r in child.reasons]
    row.content = json.dumps(content, default=str)
    row.draft = None
    row.status = RecordStatus.SUBMITTED
    row.submitted_at = utcnow()
    row.person_id, row.case_id = person_id, case.id
    row.encounter_at, row.encounter_country, row.context = data.encounter_at, data.encounter_country, data.context
    row.forms = [f.value for f in data.forms]
    row.presumed_child, row.level = child.is_child, int(result.level)
    db.session.add(
        CaseEvent(
            case_id=case.id,
            actor_id=actor.id,
            kind=kind,
            details={"identification": row.id, "level": int(result.level), "presumed_child": child.is_child},
        )
    )
    db.session.flush()
    record(
        "identification.submitted",
        actor=actor,
        object_type="identification",
        object_id=row.id,
        details={
            "case": case.id,
            "level": int(result.level),
            "presumed_child": child.is_child,
            "catalogue": row.catalogue_key,
        },
    )
    record(kind, actor=actor, object_type="case", object_id=case.id)
    matches = flag_possible_duplicates(actor, case, new_person) if new_person is not None else 0
    return Submission(case, matches)


def _existing_case(actor: User, case_id: str) -> Case:
    case = db.session.execute(select(Case).where(Case.id == case_id, visible_cases_filter(actor))).scalar_one_or_none()
    if case is None or case.status == CaseStatus.CLOSED:
        raise FieldError("existing_case", _l("Choose one of your open cases."))
    return case


def _new_person(row: IdentificationRecord, data: IdentificationData) -> Person:
    person = Person(member_state_code=row.member_state_code, anonymous=data.anonymous)
    person.given_names = data.given_names or None
    person.family_name = data.family_name or None
    person.aliases = data.aliases or None
    person.date_of_birth = data.date_of_birth.isoformat() if data.date_of_birth else None
    person.document_number = data.document_number or None
    person.contact_details = data.contact_details or None
    person.estimated_age = data.estimated_age
    person.age_estimation = data.age_estimation
    person.may_be_child = data.may_be_child
    person.gender = data.gender
    person.citizenships = data.citizenships
    person.languages = data.languages
    person.document_type = data.document_type
    if data.family_name and (data.given_names or data.date_of_birth):
        dob = data.date_of_birth.isoformat() if data.date_of_birth else ""
        person.name_index = blind_index(f"{data.family_name}|{data.given_names}|{dob}", "person-name")
    if data.document_number:
        person.document_index = blind_index(f"{data.document_type}|{data.document_number}", "person-document")
    db.session.add(person)
    return person


def open_cases_for(actor: User) -> list[Case]:
    """The officer's open cases a new identification can be added to."""
    return list(
        db.session.execute(
            select(Case)
            .where(visible_cases_filter(actor), Case.status != CaseStatus.CLOSED)
            .order_by(Case.opened_at.desc())
            .limit(100)
        ).scalars()
    )
