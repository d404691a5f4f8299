"""Closed vocabularies for persons and cases, with translated titles."""

from __future__ import annotations

import enum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class Gender(enum.StrEnum):
    """IOM HTCDS v2.0 prs_Gender."""

    FEMININE = "Feminine"
    MASCULINE = "Masculine"
    TRANSGENDER_FEMININE = "TransgenderFeminine"
    TRANSGENDER_MASCULINE = "TransgenderMasculine"
    NON_CONFORMING = "NonConforming"
    NOT_SPECIFIED = "NonSpecifiedUnknown"

    @property
    def title(self) -> LazyString:
        return GENDER_TITLES[self]


GENDER_TITLES = {
    Gender.FEMININE: _l("Female"),
    Gender.MASCULINE: _l("Male"),
    Gender.TRANSGENDER_FEMININE: _l("Transgender female"),
    Gender.TRANSGENDER_MASCULINE: _l("Transgender male"),
    Gender.NON_CONFORMING: _l("Non-conforming"),
    Gender.NOT_SPECIFIED: _l("Not specified or unknown"),
}


class AgeEstimation(enum.StrEnum):
    SELF_DECLARED = "self_declared"
    DOCUMENT = "document"
    PROFESSIONAL_ASSESSMENT = "professional_assessment"
    APPEARANCE = "appearance"

    @property
    def title(self) -> LazyString:
        return AGE_ESTIMATION_TITLES[self]


AGE_ESTIMATION_TITLES = {
    AgeEstimation.SELF_DECLARED: _l("Told by the person"),
    AgeEstimation.DOCUMENT: _l("From a document"),
    AgeEstimation.PROFESSIONAL_ASSESSMENT: _l("Professional age assessment"),
    AgeEstimation.APPEARANCE: _l("From appearance only"),
}


class DocumentType(enum.StrEnum):
    NONE = "none"
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    RESIDENCE_PERMIT = "residence_permit"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return DOCUMENT_TITLES[self]


DOCUMENT_TITLES = {
    DocumentType.NONE: _l("No document seen"),
    DocumentType.PASSPORT: _l("Passport"),
    DocumentType.NATIONAL_ID: _l("National identity card"),
    DocumentType.RESIDENCE_PERMIT: _l("Residence permit"),
    DocumentType.OTHER: _l("Other document"),
}


class EncounterContext(enum.StrEnum):
    BORDER_CHECK = "border_check"
    POLICE_OPERATION = "police_operation"
    LABOUR_INSPECTION = "labour_inspection"
    SOCIAL_SERVICES = "social_services"
    HEALTH_SERVICE = "health_service"
    HOTLINE = "hotline"
    SELF_REFERRAL = "self_referral"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return CONTEXT_TITLES[self]


CONTEXT_TITLES = {
    EncounterContext.BORDER_CHECK: _l("Border check"),
    EncounterContext.POLICE_OPERATION: _l("Police operation"),
    EncounterContext.LABOUR_INSPECTION: _l("Labour inspection"),
    EncounterContext.SOCIAL_SERVICES: _l("Social services"),
    EncounterContext.HEALTH_SERVICE: _l("Health service"),
    EncounterContext.HOTLINE: _l("Hotline"),
    EncounterContext.SELF_REFERRAL: _l("Self-referral"),
    EncounterContext.OTHER: _l("Other"),
}


class RiskLevel(enum.StrEnum):
    NONE_KNOWN = "none_known"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def title(self) -> LazyString:
        return RISK_TITLES[self]


RISK_TITLES = {
    RiskLevel.NONE_KNOWN: _l("No known risk"),
    RiskLevel.MEDIUM: _l("Some risk"),
    RiskLevel.HIGH: _l("High risk: traffickers may look for the person"),
}


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    ASSISTING = "assisting"
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def title(self) -> LazyString:
        return CASE_STATUS_TITLES[self]


CASE_STATUS_TITLES = {
    CaseStatus.OPEN: _l("Open"),
    CaseStatus.ASSISTING: _l("Assistance under way"),
    CaseStatus.CLOSED: _l("Closed"),
    CaseStatus.REOPENED: _l("Reopened"),
}


class CloseReason(enum.StrEnum):
    ASSISTANCE_COMPLETED = "assistance_completed"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    PERSON_DECLINED = "person_declined"
    NOT_REACHABLE = "not_reachable"
    DUPLICATE = "duplicate"
    NO_INDICATION_OF_TRAFFICKING = "no_indication_of_trafficking"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return CLOSE_REASON_TITLES[self]


CLOSE_REASON_TITLES = {
    CloseReason.ASSISTANCE_COMPLETED: _l("Assistance completed"),
    CloseReason.REFERRED_ELSEWHERE: _l("Handed over to another service or country"),
    CloseReason.PERSON_DECLINED: _l("The person declined assistance"),
    CloseReason.NOT_REACHABLE: _l("The person could not be reached"),
    CloseReason.DUPLICATE: _l("Duplicate of another case"),
    CloseReason.NO_INDICATION_OF_TRAFFICKING: _l("No indication of trafficking after assessment"),
    CloseReason.OTHER: _l("Other reason"),
}


CLOCK_TITLES = {
    "reasonable_grounds_decision": _l("Reasonable-grounds decision due"),
    "reflection_period": _l("Recovery and reflection period ends"),
}


# Timeline entries (CaseEvent.kind), as shown on the case page.
EVENT_TITLES = {
    "case.opened": _l("Case opened after an identification"),
    "case.start_assistance": _l("Assistance started"),
    "case.close": _l("Case closed"),
    "case.reopen": _l("Case reopened"),
    "case.linked": _l("Linked with another case of the same person"),
    "identification.amended": _l("Identification corrected"),
    "identification.added": _l("A new identification was added"),
    "note.added": _l("Note added"),
    "task.added": _l("Task added"),
    "task.done": _l("Task done"),
    "consent.recorded": _l("Consent recorded"),
    "consent.withdrawn": _l("Consent withdrawn"),
}
