"""Roles and agency kinds, with translated titles, and the one role -> permission map."""

from __future__ import annotations

import enum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app import accounts as perms
from app import audit, cases, directory, federation, identification, referrals


class Role(enum.StrEnum):
    FRONTLINE = "frontline"
    CASEWORKER = "caseworker"
    AGENCY_ADMIN = "agency_admin"
    FOCAL_POINT = "focal_point"
    SUPERVISOR = "supervisor"
    SYSTEM_ADMIN = "system_admin"

    @property
    def title(self) -> LazyString:
        return ROLE_TITLES[self]


ROLE_TITLES: dict[Role, LazyString] = {
    Role.FRONTLINE: _l("Frontline professional"),
    Role.CASEWORKER: _l("Support organisation caseworker"),
    Role.AGENCY_ADMIN: _l("Agency administrator"),
    Role.FOCAL_POINT: _l("National focal point"),
    Role.SUPERVISOR: _l("Supervisor / auditor"),
    Role.SYSTEM_ADMIN: _l("System administrator"),
}


class AgencyKind(enum.StrEnum):
    BORDER_GUARD = "border_guard"
    POLICE = "police"
    LABOUR_INSPECTORATE = "labour_inspectorate"
    SOCIAL_SERVICES = "social_services"
    CHILD_PROTECTION = "child_protection"
    HEALTH_SERVICE = "health_service"
    NGO_SUPPORT = "ngo_support"
    SHELTER = "shelter"
    LEGAL_AID = "legal_aid"
    INTERPRETATION = "interpretation"
    NATIONAL_FOCAL_POINT = "national_focal_point"
    INTERNATIONAL_ORGANISATION = "international_organisation"

    @property
    def title(self) -> LazyString:
        return AGENCY_KIND_TITLES[self]


AGENCY_KIND_TITLES: dict[AgencyKind, LazyString] = {
    AgencyKind.BORDER_GUARD: _l("Border guard"),
    AgencyKind.POLICE: _l("Police"),
    AgencyKind.LABOUR_INSPECTORATE: _l("Labour inspectorate"),
    AgencyKind.SOCIAL_SERVICES: _l("Social services"),
    AgencyKind.CHILD_PROTECTION: _l("Child protection service"),
    AgencyKind.HEALTH_SERVICE: _l("Health service"),
    AgencyKind.NGO_SUPPORT: _l("NGO support service"),
    AgencyKind.SHELTER: _l("Shelter"),
    AgencyKind.LEGAL_AID: _l("Legal aid"),
    AgencyKind.INTERPRETATION: _l("Interpretation service"),
    AgencyKind.NATIONAL_FOCAL_POINT: _l("National focal point / anti-trafficking coordinator"),
    AgencyKind.INTERNATIONAL_ORGANISATION: _l("International organisation"),
}

_EVERYONE = frozenset({perms.SELF_SERVICE.name, identification.VIEW_CATALOGUE.name})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.FRONTLINE: _EVERYONE
    | {
        cases.IDENTIFY.name,
        cases.VIEW_CASES.name,
        cases.BREAK_GLASS.name,
        directory.VIEW_DIRECTORY.name,
        referrals.MAKE_REFERRALS.name,
        referrals.VIEW_REFERRALS.name,
    },
    Role.CASEWORKER: _EVERYONE
    | {
        directory.VIEW_DIRECTORY.name,
        directory.UPDATE_CAPACITY.name,
        referrals.RECEIVE_REFERRALS.name,
        referrals.VIEW_REFERRALS.name,
    },
    Role.AGENCY_ADMIN: _EVERYONE
    | {
        perms.MANAGE_USERS.name,
        directory.VIEW_DIRECTORY.name,
        directory.MANAGE_DIRECTORY.name,
        directory.UPDATE_CAPACITY.name,
    },
    Role.FOCAL_POINT: _EVERYONE
    | {
        perms.VIEW_DIRECTORY_OF_AGENCIES.name,
        identification.MANAGE_CATALOGUE.name,
        cases.IDENTIFY.name,
        cases.VIEW_CASES.name,
        cases.BREAK_GLASS.name,
        cases.RESOLVE_DUPLICATES.name,
        perms.MANAGE_MEMBER_STATES.name,
        directory.VIEW_DIRECTORY.name,
        directory.MANAGE_DIRECTORY.name,
        referrals.MAKE_REFERRALS.name,
        referrals.VITAL_INTEREST.name,
        referrals.VIEW_REFERRALS.name,
        referrals.CROSS_BORDER_DESK.name,
    },
    Role.SUPERVISOR: _EVERYONE
    | {
        directory.VIEW_DIRECTORY.name,
        audit.VIEW_AUDIT.name,
        audit.EXPORT_AUDIT.name,
        audit.REVIEW_BREAK_GLASS.name,
    },
    Role.SYSTEM_ADMIN: _EVERYONE
    | {
        perms.MANAGE_USERS.name,
        perms.MANAGE_AGENCIES.name,
        perms.MANAGE_MEMBER_STATES.name,
        perms.VIEW_DIRECTORY_OF_AGENCIES.name,
        directory.VIEW_DIRECTORY.name,
        directory.MANAGE_DIRECTORY.name,
        federation.MANAGE_TRUST_LIST.name,
    },
}

# Roles an administrator may hand out. System administrators bootstrap agency
# administrators; an agency administrator staffs their own agency. Neither can give
# themselves or others a way around "system administrators see no case data".
ASSIGNABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.SYSTEM_ADMIN: frozenset({Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN}),
    Role.AGENCY_ADMIN: frozenset(
        {Role.FRONTLINE, Role.CASEWORKER, Role.AGENCY_ADMIN, Role.FOCAL_POINT, Role.SUPERVISOR}
    ),
}


def has_permission(role: Role, permission_name: str) -> bool:
    return permission_name in ROLE_PERMISSIONS.get(role, frozenset())
