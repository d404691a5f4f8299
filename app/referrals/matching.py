"""What a person needs, read from the case and its latest identification, for ranking services."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from app.cases.models import Case
from app.cases.services import content_of
from app.cases.vocabulary import Gender
from app.directory.queries import Needs, Suggestion, suggest
from app.directory.vocabulary import ServiceType, TargetGroup
from app.extensions import db
from app.identification.models import IdentificationRecord, RecordStatus

# Always useful to a presumed victim, after what the identification asked for.
BASELINE = (ServiceType.COUNSELLING, ServiceType.PSYCHOLOGICAL, ServiceType.LEGAL_AID, ServiceType.MEDICAL)

GENDER_GROUPS = {
    Gender.FEMININE: (TargetGroup.WOMEN,),
    Gender.MASCULINE: (TargetGroup.MEN,),
    Gender.TRANSGENDER_FEMININE: (TargetGroup.WOMEN, TargetGroup.LGBTQI),
    Gender.TRANSGENDER_MASCULINE: (TargetGroup.MEN, TargetGroup.LGBTQI),
    Gender.NON_CONFORMING: (TargetGroup.LGBTQI,),
}


def latest_identification(case: Case) -> IdentificationRecord | None:
    return db.session.execute(
        select(IdentificationRecord)
        .where(IdentificationRecord.case_id == case.id, IdentificationRecord.status == RecordStatus.SUBMITTED)
        .order_by(IdentificationRecord.submitted_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def needs_of(case: Case) -> Needs:
    row = latest_identification(case)
    content = content_of(row) if row else {}
    wanted: list[ServiceType] = []
    if case.presumed_child or content.get("child_protection"):
        wanted.append(ServiceType.CHILD_PROTECTION)
    if content.get("medical_emergency"):
        wanted.append(ServiceType.MEDICAL)
    if content.get("accommodation_tonight"):
        wanted += [ServiceType.EMERGENCY_ACCOMMODATION, ServiceType.SAFE_ACCOMMODATION]
    if content.get("interpreter_language"):
        wanted.append(ServiceType.INTERPRETATION)
    wanted += [t for t in BASELINE if t not in wanted]
    person = case.person
    languages = list(person.languages or [])
    if content.get("interpreter_language"):
        languages.append(content["interpreter_language"])
    groups: tuple[TargetGroup, ...] = ()
    if case.presumed_child:
        groups = (TargetGroup.CHILDREN, TargetGroup.UNACCOMPANIED_CHILDREN)
    elif person.gender is not None:
        groups = GENDER_GROUPS.get(person.gender, ())
    return Needs(
        member_state_code=case.member_state_code,
        service_types=tuple(wanted),
        languages=tuple(dict.fromkeys(languages)),
        target_groups=tuple(g.value for g in groups),
        emergency=bool(content.get("medical_emergency") or content.get("accommodation_tonight")),
    )


def suggestions_for(
    case: Case, *, exclude: set[str] | None = None, country: str | None = None, limit: int = 10
) -> list[Suggestion]:
    """Services ranked for the person, in the case's country or, across borders, in ``country``."""
    needs = needs_of(case)
    if country is not None:
        needs = replace(needs, member_state_code=country)
    return suggest(needs, exclude=exclude, limit=limit)
