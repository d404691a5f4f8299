"""Business rules of the directory: organisations, services and their live capacity.

Every function takes the acting user explicitly, flushes and never commits: the view
commits once. Each change writes its audit entry in the same transaction: codes and ids
for a creation, the field-level before/after for an update (a directory entry describes
an organisation, not a person, so nothing in it is masked).

Who may change what (see docs/DIRECTORY.md):

* system administrators: any organisation and service;
* national focal points: organisations and services of their own Member State;
* agency administrators: the organisation linked to their own agency and its services;
* live capacity: caseworkers and agency administrators of the organisation's linked agency.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, false, select, true

from app.accounts.models import Agency, MemberState, User
from app.accounts.roles import Role
from app.accounts.services import FieldError
from app.audit.services import field_changes, record
from app.core.db import utcnow
from app.core.errors import Conflict, PermissionDenied
from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType, TargetGroup
from app.extensions import db

MAX_NAME = 200
MAX_TEXT = 5000
MAX_EMAIL = 254
MAX_WEBSITE = 300
MAX_REGION = 120
MAX_OPENING_HOURS = 300
MAX_UNIT = 40
MAX_CAPACITY = 100_000
MAX_LANGUAGES = 40

Problem: TypeAlias = tuple[str, LazyString]

CAPACITY_ROLES = frozenset({Role.CASEWORKER, Role.AGENCY_ADMIN})
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class InvalidEntry(FieldError):
    """One or more problems with what was entered, each belonging to a field.

    ``field`` and ``message`` are those of the first problem, so a caller that only
    knows :class:`FieldError` still shows something useful."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first_field, first_message = problems[0]
        super().__init__(first_field, first_message)


# --- who may do what ----------------------------------------------------------------------


def _country_of(actor: User) -> str:
    return actor.agency.member_state_code


def can_manage_organization(actor: User, organization: Organization) -> bool:
    if actor.role == Role.SYSTEM_ADMIN:
        return True
    if actor.role == Role.FOCAL_POINT:
        return organization.member_state_code == _country_of(actor)
    if actor.role == Role.AGENCY_ADMIN:
        return organization.agency_id is not None and organization.agency_id == actor.agency_id
    return False


def manageable_organizations_filter(actor: User) -> ColumnElement[bool]:
    """The SQL form of :func:`can_manage_organization`, for lists and exports."""
    if actor.role == Role.SYSTEM_ADMIN:
        return true()
    if actor.role == Role.FOCAL_POINT:
        return Organization.member_state_code == _country_of(actor)
    if actor.role == Role.AGENCY_ADMIN:
        return Organization.agency_id == actor.agency_id
    return false()


def can_manage_service(actor: User, service: Service) -> bool:
    if not can_manage_organization(actor, service.organization):
        return False
    return actor.role != Role.FOCAL_POINT or service.member_state_code == _country_of(actor)


def can_update_capacity(actor: User, service: Service) -> bool:
    """The service's own staff: caseworkers and agency administrators of the linked agency."""
    agency_id = service.organization.agency_id
    return actor.role in CAPACITY_ROLES and agency_id is not None and agency_id == actor.agency_id


def can_view_service(actor: User, service: Service) -> bool:
    """Active services are open to every directory user; inactive ones to those who look after them."""
    if service.active and service.organization.active:
        return True
    return can_manage_service(actor, service) or can_update_capacity(actor, service)


def allowed_countries(actor: User) -> list[str] | None:
    """Countries in which ``actor`` may place organisations and services (None: any)."""
    if actor.role == Role.SYSTEM_ADMIN:
        return None
    if actor.role in (Role.FOCAL_POINT, Role.AGENCY_ADMIN):
        return [_country_of(actor)]
    return []


def linkable_agencies(actor: User, organization: Organization | None) -> list[Agency]:
    """Agencies ``actor`` may link an organisation to. An agency is linked to at most one
    organisation; an agency administrator's organisation is always their own agency's."""
    if actor.role == Role.AGENCY_ADMIN:
        return [actor.agency]
    query = select(Agency).where(Agency.active.is_(True)).order_by(Agency.member_state_code, Agency.name)
    if actor.role == Role.FOCAL_POINT:
        query = query.where(Agency.member_state_code == _country_of(actor))
    elif actor.role != Role.SYSTEM_ADMIN:
        return []
    taken = select(Organization.agency_id).where(Organization.agency_id.is_not(None))
    if organization is not None:
        taken = taken.where(Organization.id != organization.id)
    agencies = list(db.session.execute(query.where(Agency.id.not_in(taken))).scalars())
    if organization is not None and organization.agency is not None and organization.agency not in agencies:
        agencies.insert(0, organization.agency)  # its current link stays choosable
    return agencies


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied()


# --- checking what was entered ------------------------------------------------------------


def normalise_phone(text: str, country: str | None) -> str | None:
    """A phone number in E.164 (``+33123456789``), or None when it is not a valid number.

    Numbers may be typed in international form or, when ``country`` is given, in that
    country's national form."""
    text = text.strip()
    if not text or len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, country if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    return bool(_E164.match(text))


def is_language_code(code: str) -> bool:
    return len(code) == 2 and code.isascii() and code.islower() and pycountry.languages.get(alpha_2=code) is not None


def _email_problem(email: str) -> LazyString | None:
    if len(email) > MAX_EMAIL:
        return _l("Use at most 254 characters.")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return _l("Enter an e-mail address in the right format, like name@example.org.")
    return None


def _website_problem(website: str) -> LazyString | None:
    if len(website) > MAX_WEBSITE:
        return _l("Use at most 300 characters.")
    parts = urlsplit(website)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in website:
        return _l("Enter a web address starting with https://, like https://example.org.")
    return None


def parse_service_type(code: str) -> ServiceType | None:
    try:
        return ServiceType(code)
    except ValueError:
        return None


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower() and len(text) == 36
    except ValueError:
        return False


@dataclass
class OrganizationData:
    name: str
    member_state_code: str
    description: str = ""
    email: str = ""
    website: str = ""
    agency_id: int | None = None


@dataclass
class ServiceData:
    name: str
    service_type: str
    member_state_code: str
    region: str = ""
    description: str = ""
    languages: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    eligibility: str = ""
    opening_hours: str = ""
    always_open: bool = False
    phone: str = ""
    email: str = ""
    capacity_unit: str = ""


@dataclass
class CleanService:
    """Service data once checked: stripped, codes known, phone in E.164."""

    name: str
    service_type: ServiceType
    member_state_code: str
    region: str
    description: str
    languages: list[str]
    target_groups: list[str]
    eligibility: str
    opening_hours: str
    always_open: bool
    phone: str | None
    email: str | None
    capacity_unit: str


class Rules:
    """The checks of one actor's entries. Reads the known countries once, so an import
    of many rows costs one query for them."""

    def __init__(self, actor: User) -> None:
        self.actor = actor
        self._countries: set[str] | None = None

    @property
    def countries(self) -> set[str]:
        if self._countries is None:
            self._countries = set(db.session.execute(select(MemberState.code)).scalars())
        return self._countries

    def country_problem(self, code: str) -> LazyString | None:
        if code not in self.countries:
            return _l("Choose a country from the list.")
        allowed = allowed_countries(self.actor)
        if allowed is not None and code not in allowed:
            return _l("You can only add entries in your own country.")
        return None

    def organization_problems(self, data: OrganizationData, *, existing: Organization | None) -> list[Problem]:
        problems: list[Problem] = []
        if not data.name.strip():
            problems.append(("name", _l("Enter the organisation's name.")))
        problems += _too_long(name=(data.name.strip(), MAX_NAME), description=(data.description.strip(), MAX_TEXT))
        if data.email.strip() and (message := _email_problem(data.email.strip())):
            problems.append(("email", message))
        if data.website.strip() and (message := _website_problem(data.website.strip())):
            problems.append(("website", message))
        if message := self.country_problem(data.member_state_code):
            problems.append(("member_state_code", message))
        problems += self._agency_problems(data, existing)
        return problems

    def _agency_problems(self, data: OrganizationData, existing: Organization | None) -> list[Problem]:
        actor = self.actor
        if actor.role == Role.AGENCY_ADMIN and data.agency_id != actor.agency_id:
            return [("agency_id", _l("Your organisation stays linked to your own agency."))]
        if data.agency_id is None or (existing is not None and existing.agency_id == data.agency_id):
            return []
        agency = db.session.get(Agency, data.agency_id)
        if agency is None or not agency.active:
            return [("agency_id", _l("Choose an active agency."))]
        if agency.member_state_code != data.member_state_code:
            return [("agency_id", _l("The agency must be in the organisation's country."))]
        clash = db.session.execute(
            select(Organization.id).where(Organization.agency_id == agency.id)
        ).scalar_one_or_none()
        if clash is not None and (existing is None or clash != existing.id):
            return [("agency_id", _l("This agency is already linked to another organisation."))]
        return []

    def service_problems(self, data: ServiceData, *, organization_country: str) -> tuple[list[Problem], CleanService]:
        """Every problem with ``data`` (empty when none), and the data cleaned up."""
        clean = CleanService(
            name=data.name.strip(),
            service_type=parse_service_type(data.service_type) or ServiceType.OTHER,
            member_state_code=data.member_state_code,
            region=data.region.strip(),
            description=data.description.strip(),
            languages=list(dict.fromkeys(code.strip().lower() for code in data.languages if code.strip())),
            target_groups=[g.value for g in TargetGroup if g.value in {t.strip() for t in data.target_groups}],
            eligibility=data.eligibility.strip(),
            opening_hours=data.opening_hours.strip(),
            always_open=data.always_open,
            phone=normalise_phone(data.phone, data.member_state_code or None) if data.phone.strip() else None,
            email=data.email.strip() or None,
            capacity_unit=data.capacity_unit.strip(),
        )
        problems: list[Problem] = []
        if not clean.name:
            problems.append(("name", _l("Enter the service's name.")))
        if parse_service_type(data.service_type) is None:
            problems.append(("service_type", _l("Choose a type of service from the list.")))
        if message := self.country_problem(data.member_state_code):
            problems.append(("member_state_code", message))
        elif self.actor.role != Role.SYSTEM_ADMIN and data.member_state_code != organization_country:
            problems.append(("member_state_code", _l("The service must be in the organisation's country.")))
        problems += _code_problems(clean, data)
        if data.phone.strip() and clean.phone is None:
            problems.append(("phone", _l("Enter a valid phone number, in international form like +33 1 23 45 67 89.")))
        if clean.email and (message := _email_problem(clean.email)):
            problems.append(("email", message))
        problems += _too_long(
            name=(clean.name, MAX_NAME),
            description=(clean.description, MAX_TEXT),
            region=(clean.region, MAX_REGION),
            eligibility=(clean.eligibility, MAX_TEXT),
            opening_hours=(clean.opening_hours, MAX_OPENING_HOURS),
            capacity_unit=(clean.capacity_unit, MAX_UNIT),
        )
        return problems, clean


def _code_problems(clean: CleanService, data: ServiceData) -> list[Problem]:
    problems: list[Problem] = []
    if any(not is_language_code(code) for code in clean.languages) or len(clean.languages) > MAX_LANGUAGES:
        problems.append(("languages", _l("Use two-letter ISO 639-1 language codes, like fr or en.")))
    known_groups = {g.value for g in TargetGroup}
    if any(g.strip() and g.strip() not in known_groups for g in data.target_groups):
        problems.append(("target_groups", _l("Choose target groups from the list.")))
    return problems


_TOO_LONG = {
    MAX_UNIT: _l("Use at most 40 characters."),
    MAX_REGION: _l("Use at most 120 characters."),
    MAX_NAME: _l("Use at most 200 characters."),
    MAX_OPENING_HOURS: _l("Use at most 300 characters."),
    MAX_TEXT: _l("Use at most 5000 characters."),
}


def _too_long(**values: tuple[str, int]) -> list[Problem]:
    return [(name, _TOO_LONG[limit]) for name, (text, limit) in values.items() if len(text) > limit]


def capacity_problems(available: int | None, maximum: int | None) -> list[Problem]:
    """Both empty (capacity not tracked), or 0 <= available <= maximum."""
    problems: list[Problem] = []
    if available is None and maximum is None:
        return problems
    if maximum is None:
        problems.append(("capacity_maximum", _l("Enter the maximum as well, or leave both empty.")))
    elif maximum < 0:
        problems.append(("capacity_maximum", _l("Enter a number of 0 or more.")))
    elif maximum > MAX_CAPACITY:
        problems.append(("capacity_maximum", _l("Enter a number of at most 100000.")))
    if available is None:
        problems.append(("capacity_available", _l("Enter the number of free places as well, or leave both empty.")))
    elif available < 0:
        problems.append(("capacity_available", _l("Enter a number of 0 or more.")))
    elif maximum is not None and 0 <= maximum < available:
        problems.append(("capacity_available", _l("There cannot be more free places than the maximum.")))
    return problems


def _check_version(current: int, submitted: int | None) -> None:
    if submitted is not None and current != submitted:
        raise Conflict()


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise InvalidEntry(problems)


# --- organisations ------------------------------------------------------------------------


ORGANIZATION_FIELDS = ("name", "description", "email", "website", "member_state_code", "agency_id")


def _values(row: Organization | Service, names: tuple[str, ...]) -> dict[str, object]:
    """A directory entry's fields for the trail (organisations' data, not people's: shown)."""
    return {name: getattr(row, name) for name in names}


def apply_organization(organization: Organization, data: OrganizationData) -> list[str]:
    """Copy checked data onto ``organization``; returns the names of the fields that changed."""
    values = {
        "name": data.name.strip(),
        "description": data.description.strip(),
        "email": data.email.strip() or None,
        "website": data.website.strip() or None,
        "member_state_code": data.member_state_code,
        "agency_id": data.agency_id,
    }
    changed = [name for name, value in values.items() if getattr(organization, name) != value]
    for name in changed:
        setattr(organization, name, values[name])
    return sorted(changed)


def create_organization(actor: User, data: OrganizationData) -> Organization:
    if actor.role not in (Role.SYSTEM_ADMIN, Role.FOCAL_POINT, Role.AGENCY_ADMIN):
        raise PermissionDenied()
    _raise_if(Rules(actor).organization_problems(data, existing=None))
    organization = Organization(active=True)
    apply_organization(organization, data)
    db.session.add(organization)
    db.session.flush()
    record(
        "organization.created",
        actor=actor,
        object_type="organization",
        object_id=organization.id,
        details={"member_state": organization.member_state_code, "agency_id": organization.agency_id},
    )
    return organization


def update_organization(actor: User, organization: Organization, data: OrganizationData, *, version: int) -> None:
    _require(can_manage_organization(actor, organization))
    _check_version(organization.version, version)
    _raise_if(Rules(actor).organization_problems(data, existing=organization))
    before = _values(organization, ORGANIZATION_FIELDS)
    changed = apply_organization(organization, data)
    if changed:
        db.session.flush()
        record(
            "organization.updated",
            actor=actor,
            object_type="organization",
            object_id=organization.id,
            details={
                "changed": changed,
                "member_state": organization.member_state_code,
                "agency_id": organization.agency_id,
                "changes": field_changes(before, _values(organization, ORGANIZATION_FIELDS)),
            },
        )


def set_organization_active(actor: User, organization: Organization, *, active: bool) -> None:
    _require(can_manage_organization(actor, organization))
    if organization.active == active:
        return
    organization.active = active
    db.session.flush()
    record(
        "organization.activated" if active else "organization.deactivated",
        actor=actor,
        object_type="organization",
        object_id=organization.id,
        details={"changes": field_changes({"active": not active}, {"active": active})},
    )


# --- services -----------------------------------------------------------------------------


SERVICE_FIELDS = (
    "name",
    "service_type",
    "member_state_code",
    "region",
    "description",
    "languages",
    "target_groups",
    "eligibility",
    "opening_hours",
    "always_open",
    "phone",
    "email",
    "capacity_unit",
)
CAPACITY_FIELDS = ("capacity_available", "capacity_maximum")


def apply_service(service: Service, clean: CleanService) -> list[str]:
    values = {
        "name": clean.name,
        "service_type": clean.service_type,
        "member_state_code": clean.member_state_code,
        "region": clean.region,
        "description": clean.description,
        "languages": clean.languages,
        "target_groups": clean.target_groups,
        "eligibility": clean.eligibility,
        "opening_hours": clean.opening_hours,
        "always_open": clean.always_open,
        "phone": clean.phone,
        "email": clean.email,
        "capacity_unit": clean.capacity_unit,
    }
    changed = [name for name, value in values.items() if getattr(service, name) != value]
    for name in changed:
        setattr(service, name, values[name])
    return sorted(changed)


def _service_details(service: Service, changed: list[str] | None = None) -> dict[str, object]:
    details: dict[str, object] = {
        "organization_id": service.organization_id,
        "service_type": service.service_type.value,
        "member_state": service.member_state_code,
    }
    if changed is not None:
        details["changed"] = changed
    return details


def create_service(actor: User, organization: Organization, data: ServiceData) -> Service:
    _require(can_manage_organization(actor, organization))
    problems, clean = Rules(actor).service_problems(data, organization_country=organization.member_state_code)
    _raise_if(problems)
    service = Service(organization_id=organization.id, active=True)
    service.organization = organization
    apply_service(service, clean)
    db.session.add(service)
    db.session.flush()
    record(
        "service.created", actor=actor, object_type="service", object_id=service.id, details=_service_details(service)
    )
    return service


def update_service(actor: User, service: Service, data: ServiceData, *, version: int) -> None:
    _require(can_manage_service(actor, service))
    _check_version(service.version, version)
    problems, clean = Rules(actor).service_problems(data, organization_country=service.organization.member_state_code)
    _raise_if(problems)
    before = _values(service, SERVICE_FIELDS)
    changed = apply_service(service, clean)
    if changed:
        db.session.flush()
        details = _service_details(service, changed)
        details["changes"] = field_changes(before, _values(service, SERVICE_FIELDS))
        record("service.updated", actor=actor, object_type="service", object_id=service.id, details=details)


def set_service_active(actor: User, service: Service, *, active: bool) -> None:
    _require(can_manage_service(actor, service))
    if service.active == active:
        return
    service.active = active
    db.session.flush()
    record(
        "service.activated" if active else "service.deactivated",
        actor=actor,
        object_type="service",
        object_id=service.id,
        details={"changes": field_changes({"active": not active}, {"active": active})},
    )


def update_capacity(actor: User, service: Service, *, available: int | None, maximum: int | None, version: int) -> None:
    """Live capacity, kept by the service's own staff. Both empty: capacity not tracked."""
    _require(can_update_capacity(actor, service))
    _check_version(service.version, version)
    _raise_if(capacity_problems(available, maximum))
    before = _values(service, CAPACITY_FIELDS)
    set_capacity(service, available=available, maximum=maximum, by=actor, at=utcnow())
    db.session.flush()
    record(
        "service.capacity_updated",
        actor=actor,
        object_type="service",
        object_id=service.id,
        details={
            "available": available,
            "maximum": maximum,
            "changes": field_changes(before, _values(service, CAPACITY_FIELDS)),
        },
    )


def set_capacity(service: Service, *, available: int | None, maximum: int | None, by: User, at: datetime) -> None:
    """Write capacity values already checked with :func:`capacity_problems`."""
    service.capacity_available = available
    service.capacity_maximum = maximum
    service.capacity_updated_at = at
    service.capacity_updated_by_id = by.id
