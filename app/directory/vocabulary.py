"""Closed vocabularies of the directory, with translated titles.

The values are the taxonomy terms used in HSDS exports (taxonomy ``victim-referral``).
"""

from __future__ import annotations

import enum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class ServiceType(enum.StrEnum):
    SAFE_ACCOMMODATION = "safe_accommodation"
    EMERGENCY_ACCOMMODATION = "emergency_accommodation"
    MEDICAL = "medical"
    PSYCHOLOGICAL = "psychological"
    LEGAL_AID = "legal_aid"
    INTERPRETATION = "interpretation"
    MATERIAL_ASSISTANCE = "material_assistance"
    COUNSELLING = "counselling"
    CHILD_PROTECTION = "child_protection"
    EDUCATION = "education"
    EMPLOYMENT = "employment"
    RETURN_REINTEGRATION = "return_reintegration"
    LAW_ENFORCEMENT_LIAISON = "law_enforcement_liaison"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return SERVICE_TYPE_TITLES[self]


SERVICE_TYPE_TITLES = {
    ServiceType.SAFE_ACCOMMODATION: _l("Safe accommodation"),
    ServiceType.EMERGENCY_ACCOMMODATION: _l("Emergency accommodation"),
    ServiceType.MEDICAL: _l("Medical care"),
    ServiceType.PSYCHOLOGICAL: _l("Psychological support"),
    ServiceType.LEGAL_AID: _l("Legal aid"),
    ServiceType.INTERPRETATION: _l("Interpretation"),
    ServiceType.MATERIAL_ASSISTANCE: _l("Material assistance"),
    ServiceType.COUNSELLING: _l("Counselling and information"),
    ServiceType.CHILD_PROTECTION: _l("Child protection"),
    ServiceType.EDUCATION: _l("Education"),
    ServiceType.EMPLOYMENT: _l("Employment"),
    ServiceType.RETURN_REINTEGRATION: _l("Return and reintegration"),
    ServiceType.LAW_ENFORCEMENT_LIAISON: _l("Law-enforcement liaison"),
    ServiceType.OTHER: _l("Other service"),
}


class TargetGroup(enum.StrEnum):
    WOMEN = "women"
    MEN = "men"
    CHILDREN = "children"
    UNACCOMPANIED_CHILDREN = "unaccompanied_children"
    FAMILIES = "families"
    LGBTQI = "lgbtqi"
    DISABILITIES = "disabilities"

    @property
    def title(self) -> LazyString:
        return TARGET_GROUP_TITLES[self]


TARGET_GROUP_TITLES = {
    TargetGroup.WOMEN: _l("Women"),
    TargetGroup.MEN: _l("Men"),
    TargetGroup.CHILDREN: _l("Children"),
    TargetGroup.UNACCOMPANIED_CHILDREN: _l("Unaccompanied children"),
    TargetGroup.FAMILIES: _l("Families"),
    TargetGroup.LGBTQI: _l("LGBTQI+ persons"),
    TargetGroup.DISABILITIES: _l("Persons with disabilities"),
}
