"""What a recipient sees of a case: only the parts the sender shared, and always the risk.

Built from the case, its person and its latest identification; every read is audited
with the parts shown. A pseudonymised cross-border referral shows of the person only the
year of birth, sex and citizenship, and the case's reference instead of a name, until the
sender releases the identification details on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.audit.services import record
from app.cases.models import CaseNote, NoteVisibility
from app.cases.services import content_of
from app.cases.vocabulary import DocumentType, Gender, RiskLevel
from app.extensions import db
from app.identification.assessment import Assessment, assess
from app.identification.catalogue import Catalogue
from app.identification.records import catalogue_of
from app.referrals.matching import latest_identification
from app.referrals.models import Referral
from app.referrals.vocabulary import PSEUDONYMISED_PARTS, IdentityDecision, SharedPart


@dataclass
class SharedCase:
    reference: str
    presumed_child: bool
    risk_level: RiskLevel
    risk_note: str
    parts: frozenset[SharedPart]
    gender: Gender | None = None
    age: int | None = None
    languages: list[str] = field(default_factory=list)
    citizenships: list[str] = field(default_factory=list)
    needs: dict[str, Any] = field(default_factory=dict)
    given_names: str = ""
    family_name: str = ""
    aliases: str = ""
    date_of_birth: str = ""
    contact_details: str = ""
    document_type: DocumentType | None = None
    document_number: str = ""
    forms: list[str] = field(default_factory=list)
    indicators: dict[str, str] = field(default_factory=dict)
    catalogue: Catalogue | None = None
    assessment: Assessment | None = None
    notes: list[CaseNote] = field(default_factory=list)
    pseudonymised: bool = False
    birth_year: int | None = None
    identity_released: bool = False


def _age(person: Any, today: date) -> int | None:
    if person.date_of_birth:
        born = date.fromisoformat(person.date_of_birth)
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    age: int | None = person.estimated_age
    return age


def _birth_year(person: Any, today: date) -> int | None:
    if person.date_of_birth:
        return date.fromisoformat(person.date_of_birth).year
    if person.estimated_age is not None:
        return today.year - int(person.estimated_age)
    return None


def shared_case(actor: User, referral: Referral, today: date) -> SharedCase:
    """The shared parts of the referral's case; the caller has checked access."""
    case = referral.case
    person = case.person
    row = latest_identification(case)
    content = content_of(row) if row else {}
    parts = frozenset(SharedPart(p) for p in referral.shared_parts)
    released = referral.identity_decision == IdentityDecision.RELEASED
    pseudonymised = referral.pseudonymised and not released
    if referral.pseudonymised:
        # Whatever the parts say, nothing identifying travels; released identity adds the names.
        parts = frozenset(p for p in parts if p in PSEUDONYMISED_PARTS) | ({SharedPart.IDENTITY} if released else set())
    shared = SharedCase(
        reference=case.reference,
        presumed_child=case.presumed_child,
        risk_level=RiskLevel(content.get("risk_level", RiskLevel.NONE_KNOWN.value)),
        risk_note=content.get("risk_note", ""),
        parts=parts,
        pseudonymised=pseudonymised,
        identity_released=released,
    )
    if SharedPart.PROFILE in parts and pseudonymised:
        shared.gender = person.gender
        shared.birth_year = _birth_year(person, today)
        shared.citizenships = list(person.citizenships or [])
    elif SharedPart.PROFILE in parts:
        shared.gender = person.gender
        shared.age = _age(person, today)
        shared.languages = list(person.languages or [])
        shared.citizenships = list(person.citizenships or [])
    if SharedPart.NEEDS in parts:
        shared.needs = {
            key: content.get(key)
            for key in ("medical_emergency", "accommodation_tonight", "interpreter_language", "child_protection")
        }
    if SharedPart.IDENTITY in parts:
        shared.given_names = person.given_names or ""
        shared.family_name = person.family_name or ""
        shared.aliases = person.aliases or ""
        shared.date_of_birth = person.date_of_birth or ""
    if SharedPart.CONTACT in parts:
        shared.contact_details = person.contact_details or ""
    if SharedPart.DOCUMENT in parts:
        shared.document_type = person.document_type
        shared.document_number = person.document_number or ""
    if SharedPart.ASSESSMENT in parts and row is not None:
        shared.forms = list(content.get("forms", []))
        shared.indicators = dict(content.get("indicators", {}))
        shared.catalogue = catalogue_of(row)
        shared.assessment = assess(shared.catalogue, shared.indicators, child=bool(row.presumed_child))
    if SharedPart.NOTES in parts:
        shared.notes = list(
            db.session.execute(
                select(CaseNote)
                .options(joinedload(CaseNote.author))
                .where(CaseNote.case_id == case.id, CaseNote.visibility == NoteVisibility.SHAREABLE)
                .order_by(CaseNote.created_at)
            ).scalars()
        )
    record(
        "referral.shared_viewed",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        details={
            "case": case.id,
            "parts": sorted(p.value for p in parts),
            "pseudonymised": pseudonymised,
            "identification": row.id if row else None,
            "notes": [n.id for n in shared.notes],
        },
    )
    return shared
