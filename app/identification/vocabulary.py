"""Closed vocabularies of the identification area, with translated titles."""

from __future__ import annotations

import enum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class Strength(enum.StrEnum):
    STRONG = "strong"
    MEDIUM = "medium"
    WEAK = "weak"


STRENGTH_TITLES = {Strength.STRONG: _l("strong"), Strength.MEDIUM: _l("medium"), Strength.WEAK: _l("weak")}


class AgeGroup(enum.StrEnum):
    ADULT = "adult"
    CHILD = "child"


AGE_GROUP_TITLES = {AgeGroup.ADULT: _l("Adults"), AgeGroup.CHILD: _l("Children")}


class SetStatus(enum.StrEnum):
    VERIFIED = "verified"
    SECONDARY = "secondary"
    PROVISIONAL = "provisional"

    @property
    def title(self) -> LazyString:
        return SET_STATUS_TITLES[self]


SET_STATUS_TITLES = {
    SetStatus.VERIFIED: _l("verified against the official list"),
    SetStatus.SECONDARY: _l("from a secondary source, to be verified"),
    SetStatus.PROVISIONAL: _l("provisional: not an official list"),
}


class DimensionGroup(enum.StrEnum):
    RECRUITMENT = "recruitment"
    EXPLOITATION = "exploitation"
    DESTINATION = "destination"


class ExploitationForm(enum.StrEnum):
    """Forms of exploitation (Directive 2011/36/EU as amended by 2024/1712)."""

    SEXUAL_EXPLOITATION = "sexual_exploitation"
    FORCED_LABOUR = "forced_labour"
    DOMESTIC_SERVITUDE = "domestic_servitude"
    FORCED_CRIMINALITY = "forced_criminality"
    FORCED_BEGGING = "forced_begging"
    ORGAN_REMOVAL = "organ_removal"
    FORCED_MARRIAGE = "forced_marriage"
    ILLEGAL_ADOPTION = "illegal_adoption"
    SURROGACY_EXPLOITATION = "surrogacy_exploitation"
    CHILD_LABOUR = "child_labour"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return FORM_TITLES[self]

    @property
    def htcds(self) -> str:
        """The IOM HTCDS v2.0 vic_TypeOfExploitation value."""
        return FORM_HTCDS[self]


FORM_TITLES = {
    ExploitationForm.SEXUAL_EXPLOITATION: _l("Sexual exploitation"),
    ExploitationForm.FORCED_LABOUR: _l("Forced labour or services"),
    ExploitationForm.DOMESTIC_SERVITUDE: _l("Domestic servitude"),
    ExploitationForm.FORCED_CRIMINALITY: _l("Forced criminality"),
    ExploitationForm.FORCED_BEGGING: _l("Forced begging"),
    ExploitationForm.ORGAN_REMOVAL: _l("Removal of organs"),
    ExploitationForm.FORCED_MARRIAGE: _l("Forced marriage"),
    ExploitationForm.ILLEGAL_ADOPTION: _l("Illegal adoption"),
    ExploitationForm.SURROGACY_EXPLOITATION: _l("Exploitation of surrogacy"),
    ExploitationForm.CHILD_LABOUR: _l("Child labour"),
    ExploitationForm.OTHER: _l("Other form of exploitation"),
}

FORM_HTCDS = {
    ExploitationForm.SEXUAL_EXPLOITATION: "Sexual exploitation",
    ExploitationForm.FORCED_LABOUR: "Forced labour",
    ExploitationForm.DOMESTIC_SERVITUDE: "Servitude",
    ExploitationForm.FORCED_CRIMINALITY: "Other",
    ExploitationForm.FORCED_BEGGING: "Forced begging",
    ExploitationForm.ORGAN_REMOVAL: "Organ removal",
    ExploitationForm.FORCED_MARRIAGE: "Forced marriage",
    ExploitationForm.ILLEGAL_ADOPTION: "Forced adoption",
    ExploitationForm.SURROGACY_EXPLOITATION: "Surrogacy",
    ExploitationForm.CHILD_LABOUR: "Child labour",
    ExploitationForm.OTHER: "Other",
}

# IOM HTCDS v2.0 vic_MethodsOfControl picklist.
HTCDS_METHODS_OF_CONTROL = frozenset(
    {
        "Physical threats",
        "Threats of law enforcement",
        "Threatens children/family",
        "Debt bondage",
        "False promises",
        "Physical abuse",
        "Sexual abuse",
        "Takes earnings",
        "Restricts financial access",
        "Restricts medical care",
        "Withholds necessities",
        "Psychological abuse",
        "Psychoactive substance",
        "Excessive working hours",
        "Withholds documents",
        "Other",
    }
)
