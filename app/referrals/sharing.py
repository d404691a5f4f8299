"""What a recipient sees of a case: only the parts the sender shared, and always the risk.

Built from the case, its person and its latest identification; every read is audited
with the parts shown. A pseudonymised cross-border referral shows of the person only the
year of birth, sex and citizenship, and the case's reference instead of a name, until the
sender releases the identification details on request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.audit.services import record
from app.cases.models import CaseNote, NoteVisibility
from app.cases.services import content_of
from app.cases.vocabulary import DocumentType, Gender, RiskLevel
from app.extensions import db
from app.federation.envelope import parse_timestamp, timestamp
from app.identification.assessment import Assessment, Level, assess
from app.identification.catalogue import Catalogue, Text
from app.identification.models import IdentificationRecord
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
    # The catalogue and assessment (here) or stand-ins with the names as sent (a peer's).
    catalogue: Catalogue | Any = None
    assessment: Assessment | Any = None
    notes: list[CaseNote] | list[Any] = field(default_factory=list)
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
    """The shared parts of the referral's case; the caller has checked access. On the
    receiving side of a referral from a peer installation: the snapshot it sent."""
    if referral.case is None:
        shared = from_snapshot(referral)
        record(
            "referral.shared_viewed",
            actor=actor,
            object_type="referral",
            object_id=referral.id,
            details={"parts": sorted(p.value for p in shared.parts), "pseudonymised": shared.pseudonymised},
        )
        return shared
    shared, row = build(referral, today)
    record(
        "referral.shared_viewed",
        actor=actor,
        object_type="referral",
        object_id=referral.id,
        details={
            "case": referral.case.id,
            "parts": sorted(p.value for p in shared.parts),
            "pseudonymised": shared.pseudonymised,
            "identification": row.id if row else None,
            "notes": [n.id for n in shared.notes],
        },
    )
    return shared


def build(referral: Referral, today: date) -> tuple[SharedCase, IdentificationRecord | None]:
    """What the receiving side may see of the referral's case (read now), and the
    identification it comes from."""
    case = referral.case
    assert case is not None
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
    return shared, row


# -- between installations: what travels, and the receiving side's copy ------------------

IDENTITY_FIELDS = ("given_names", "family_name", "aliases", "date_of_birth")


def snapshot(referral: Referral, today: date) -> dict[str, Any]:
    """The shared parts as they travel to a peer installation (JSON): structured values as
    codes, so the receiving side reads them in its own language; indicator names with
    every translation the catalogue has (the peer may not hold that catalogue version);
    free texts with the language they were written in."""
    shared, _row = build(referral, today)
    data: dict[str, Any] = {
        "reference": shared.reference,
        "presumed_child": shared.presumed_child,
        "risk_level": shared.risk_level.value,
        "risk_note": shared.risk_note,
        "parts": sorted(p.value for p in shared.parts),
        "pseudonymised": shared.pseudonymised,
        "gender": shared.gender.value if shared.gender else None,
        "age": shared.age,
        "birth_year": shared.birth_year,
        "languages": shared.languages,
        "citizenships": shared.citizenships,
        "needs": shared.needs,
        "contact_details": shared.contact_details,
        "document_type": shared.document_type.value if shared.document_type else None,
        "document_number": shared.document_number,
        "forms": shared.forms,
        "notes": [{"text": n.text, "language": n.language, "at": timestamp(n.created_at)} for n in shared.notes],
        **{name: getattr(shared, name) for name in IDENTITY_FIELDS},
    }
    if shared.assessment is not None and shared.catalogue is not None:
        catalogue = shared.catalogue
        data["assessment"] = {
            "catalogue": catalogue.key,
            "level": int(shared.assessment.level),
            "indicators": {
                indicator: dict(catalogue.indicators[indicator].label.values)
                for indicator in shared.indicators
                if indicator in catalogue.indicators
            },
        }
    return data


def identity_of(referral: Referral) -> dict[str, str]:
    """The identification details the sending side releases on request."""
    assert referral.case is not None
    person = referral.case.person
    return {name: getattr(person, name) or "" for name in IDENTITY_FIELDS}


@dataclass(frozen=True)
class _Indicator:
    label: Text


@dataclass(frozen=True)
class _Labels:
    """Stands in for the catalogue when rendering a peer's indicators: their names as sent."""

    indicators: dict[str, _Indicator]


@dataclass(frozen=True)
class _Level:
    level: Level


def from_snapshot(referral: Referral) -> SharedCase:
    """The receiving side's copy, as the sending installation shared it (and, once
    released, with the identification details)."""
    released = referral.identity_decision == IdentityDecision.RELEASED
    return shared_from(json.loads(referral.shared_snapshot or "{}"), released=released)


def shared_from(data: dict[str, Any], *, released: bool) -> SharedCase:
    """A snapshot read back (raises ValueError, TypeError, KeyError or AttributeError when
    it is not one)."""
    parts = frozenset(SharedPart(p) for p in data.get("parts", [])) | ({SharedPart.IDENTITY} if released else set())
    shared = SharedCase(
        reference=data.get("reference", ""),
        presumed_child=bool(data.get("presumed_child")),
        risk_level=RiskLevel(data.get("risk_level", RiskLevel.NONE_KNOWN.value)),
        risk_note=data.get("risk_note", ""),
        parts=parts,
        pseudonymised=bool(data.get("pseudonymised")) and not released,
        identity_released=released,
        gender=Gender(data["gender"]) if data.get("gender") else None,
        age=data.get("age"),
        birth_year=data.get("birth_year"),
        languages=list(data.get("languages", [])),
        citizenships=list(data.get("citizenships", [])),
        needs=dict(data.get("needs", {})),
        contact_details=data.get("contact_details", ""),
        document_type=DocumentType(data["document_type"]) if data.get("document_type") else None,
        document_number=data.get("document_number", ""),
        forms=list(data.get("forms", [])),
        notes=[_Note(n["text"], n.get("language"), parse_timestamp(n["at"])) for n in data.get("notes", [])],
        **{name: data.get(name, "") for name in IDENTITY_FIELDS},
    )
    assessment = data.get("assessment")
    if assessment:
        labels = {i: _Indicator(Text(values)) for i, values in assessment["indicators"].items()}
        shared.catalogue = _Labels(labels)
        shared.indicators = dict.fromkeys(labels, "present")
        shared.assessment = _Level(Level(assessment["level"]))
    return shared


@dataclass(frozen=True)
class _Note:
    text: str
    language: str | None
    created_at: datetime
