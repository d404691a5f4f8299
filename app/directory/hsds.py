"""Export and import of the directory in Open Referral HSDS 3.x shape: JSON and flat CSV.

An import is checked in full before anything is written: every problem is collected with
the line it is on (for CSV the physical line of the row, for JSON the line on which the
organisation or service object starts), and organisations and services are upserted by id
only when there is none. The field-by-field mapping is in docs/DIRECTORY.md.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry
from flask_babel import LazyString, force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.accounts.models import User
from app.accounts.roles import Role
from app.audit.services import record
from app.core.db import utcnow
from app.core.errors import PermissionDenied
from app.directory import services
from app.directory.models import Organization, Service
from app.directory.services import OrganizationData, Problem, Rules, ServiceData
from app.directory.vocabulary import TargetGroup
from app.extensions import db

HSDS_VERSION = "3.1"
TAXONOMY = "victim-referral"
EXTENSION = "x-victim-referral"  # organisation fields HSDS has no place for: country, active flag
# Sub-objects (phones, schedules, ...) get ids derived from their service's id, so that
# exporting twice gives the same document.
ID_NAMESPACE = uuid.UUID("f7de703a-422f-4f47-a1e5-41084620ed08")
ALL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The 24/7 marker: a weekly schedule open every day from 00:00 to 23:59.
ALWAYS_OPEN_SCHEDULE = {
    "freq": "WEEKLY",
    "byday": ",".join(ALL_DAYS),
    "opens_at": "00:00",
    "closes_at": "23:59",
    "description": "24/7",
}
LINK_SERVICE_TYPE = "service_type"
LINK_TARGET_GROUP = "target_group"
STATUSES_INACTIVE = frozenset({"inactive", "defunct", "temporarily closed"})
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_DEPTH = 64

CSV_COLUMNS = (
    "organization_id",
    "organization_name",
    "organization_description",
    "organization_email",
    "organization_website",
    "organization_member_state",
    "organization_active",
    "service_id",
    "service_name",
    "service_type",
    "service_description",
    "service_status",
    "service_email",
    "service_phone",
    "service_member_state",
    "service_region",
    "service_languages",
    "service_target_groups",
    "service_eligibility_description",
    "service_opening_hours",
    "service_always_open",
    "capacity_unit",
    "capacity_available",
    "capacity_maximum",
    "capacity_updated",
)
_ORGANIZATION_COLUMNS = CSV_COLUMNS[:7]
LIST_SEPARATOR = ";"

# Where each checked field lives in the file, to name it in an error.
JSON_ORGANIZATION_FIELDS = {"member_state_code": f"{EXTENSION}.member_state_code", "agency_id": "id"}
JSON_SERVICE_FIELDS = {
    "service_type": "attributes",
    "target_groups": "attributes",
    "member_state_code": "service_areas.extent",
    "region": "service_areas.name",
    "eligibility": "eligibility_description",
    "opening_hours": "schedules",
    "phone": "phones.number",
    "capacity_unit": "capacities.unit.name",
    "capacity_available": "capacities.available",
    "capacity_maximum": "capacities.maximum",
}
CSV_ORGANIZATION_FIELDS = {
    "id": "organization_id",
    "name": "organization_name",
    "description": "organization_description",
    "email": "organization_email",
    "website": "organization_website",
    "member_state_code": "organization_member_state",
    "agency_id": "organization_id",
}
CSV_SERVICE_FIELDS = {
    "id": "service_id",
    "name": "service_name",
    "service_type": "service_type",
    "description": "service_description",
    "member_state_code": "service_member_state",
    "region": "service_region",
    "languages": "service_languages",
    "target_groups": "service_target_groups",
    "eligibility": "service_eligibility_description",
    "opening_hours": "service_opening_hours",
    "always_open": "service_always_open",
    "phone": "service_phone",
    "email": "service_email",
    "capacity_unit": "capacity_unit",
    "capacity_available": "capacity_available",
    "capacity_maximum": "capacity_maximum",
}


# --- export ---------------------------------------------------------------------------------


def exportable(actor: User) -> list[Organization]:
    """The organisations ``actor`` looks after, with their services (two queries)."""
    return list(
        db.session.execute(
            select(Organization)
            .where(services.manageable_organizations_filter(actor))
            .options(selectinload(Organization.services))
            .order_by(Organization.member_state_code, Organization.name, Organization.id)
        ).scalars()
    )


def record_export(actor: User, file_format: str, organizations: Sequence[Organization]) -> None:
    record(
        "directory.exported",
        actor=actor,
        details={
            "format": file_format,
            "organizations": len(organizations),
            "services": sum(len(o.services) for o in organizations),
        },
    )


def _sub_id(owner_id: str, kind: str, index: int | str = 0) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{owner_id}/{kind}/{index}"))


def _timestamp(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") + "Z" if moment is not None else None


def _language_name(code: str) -> str:
    entry = pycountry.languages.get(alpha_2=code)
    return str(entry.name) if entry is not None else code


def _term(link_id: str, link_type: str, code: str, name: str) -> dict[str, Any]:
    term_id = _sub_id(TAXONOMY, link_type, code)
    return {
        "id": _sub_id(link_id, "attribute", f"{link_type}/{code}"),
        "link_id": link_id,
        "link_type": link_type,
        "link_entity": "service",
        "taxonomy_term_id": term_id,
        "taxonomy_term": {"id": term_id, "code": code, "name": name, "taxonomy": TAXONOMY},
    }


def service_document(service: Service) -> dict[str, Any]:
    """One service as an HSDS 3.x ``service`` object."""
    sid = service.id
    schedules: list[dict[str, Any]] = []
    if service.opening_hours:
        schedules.append(
            {"id": _sub_id(sid, "schedule", "hours"), "service_id": sid, "description": service.opening_hours}
        )
    if service.always_open:
        schedules.append({"id": _sub_id(sid, "schedule", "24/7"), "service_id": sid, **ALWAYS_OPEN_SCHEDULE})
    document: dict[str, Any] = {
        "id": sid,
        "organization_id": service.organization_id,
        "name": service.name,
        "description": service.description,
        "email": service.email,
        "status": "active" if service.active else "inactive",
        "eligibility_description": service.eligibility,
        "languages": [
            {"id": _sub_id(sid, "language", code), "service_id": sid, "code": code, "name": _language_name(code)}
            for code in service.languages or []
        ],
        "phones": (
            [{"id": _sub_id(sid, "phone"), "service_id": sid, "number": service.phone, "type": "voice"}]
            if service.phone
            else []
        ),
        "schedules": schedules,
        "service_areas": [
            {
                "id": _sub_id(sid, "service_area"),
                "service_id": sid,
                "name": service.region,
                "extent": service.member_state_code,
                "extent_type": "text",
                "uri": f"urn:iso:std:iso:3166:-1:{service.member_state_code}",
            }
        ],
        "capacities": [],
        "attributes": [
            _term(sid, LINK_SERVICE_TYPE, service.service_type.value, str(service.service_type.title)),
            *(_term(sid, LINK_TARGET_GROUP, g, str(TargetGroup(g).title)) for g in service.target_groups or []),
        ],
    }
    if service.capacity_maximum is not None:
        document["capacities"].append(
            {
                "id": _sub_id(sid, "capacity"),
                "service_id": sid,
                "available": service.capacity_available,
                "maximum": service.capacity_maximum,
                "unit": {"id": _sub_id(TAXONOMY, "unit", service.capacity_unit), "name": service.capacity_unit},
                "updated": _timestamp(service.capacity_updated_at),
            }
        )
    return document


def organization_document(organization: Organization) -> dict[str, Any]:
    return {
        "id": organization.id,
        "name": organization.name,
        "description": organization.description,
        "email": organization.email,
        "website": organization.website,
        EXTENSION: {"member_state_code": organization.member_state_code, "active": organization.active},
        "services": [service_document(s) for s in organization.services],
    }


def export_document(organizations: Iterable[Organization]) -> dict[str, Any]:
    with force_locale("en"):  # taxonomy term names in the file are in English
        return {
            "hsds_version": HSDS_VERSION,
            "taxonomy": TAXONOMY,
            "generated_at": _timestamp(utcnow()),
            "organizations": [organization_document(o) for o in organizations],
        }


def export_json(organizations: Iterable[Organization]) -> str:
    return json.dumps(export_document(organizations), ensure_ascii=False, indent=2) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with ``'``
    (phone numbers in E.164 are digits only and stay as they are)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(_FORMULA_START) and not services.is_e164(text):
        return "'" + text
    return text


def _csv_row(organization: Organization, service: Service | None) -> list[str]:
    row: list[object] = [
        organization.id,
        organization.name,
        organization.description,
        organization.email,
        organization.website,
        organization.member_state_code,
        organization.active,
    ]
    if service is None:
        row += [""] * (len(CSV_COLUMNS) - len(row))
    else:
        row += [
            service.id,
            service.name,
            service.service_type.value,
            service.description,
            "active" if service.active else "inactive",
            service.email,
            service.phone,
            service.member_state_code,
            service.region,
            LIST_SEPARATOR.join(service.languages or []),
            LIST_SEPARATOR.join(service.target_groups or []),
            service.eligibility,
            service.opening_hours,
            service.always_open,
            service.capacity_unit,
            service.capacity_available,
            service.capacity_maximum,
            _timestamp(service.capacity_updated_at) if service.capacity_maximum is not None else None,
        ]
    return [_cell(value) for value in row]


def export_csv(organizations: Iterable[Organization]) -> str:
    """One row per service (an organisation without services gets one row of its own)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for organization in organizations:
        rows: list[Service | None] = [*organization.services] or [None]
        for service in rows:
            writer.writerow(_csv_row(organization, service))
    return out.getvalue()


# --- import: results --------------------------------------------------------------------------


@dataclass
class RowError:
    line: int
    field: str
    message: LazyString


@dataclass
class ImportReport:
    errors: list[RowError] = field(default_factory=list)
    organizations_created: int = 0
    organizations_updated: int = 0
    services_created: int = 0
    services_updated: int = 0
    capacities_updated: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _ServiceRecord:
    line: int
    id: str
    data: ServiceData
    active: bool
    unit_given: bool  # False: keep the stored unit
    capacity: tuple[int | None, int | None] | None  # None: the file says nothing about capacity
    capacity_updated: datetime | None
    fields: dict[str, str]


@dataclass
class _OrganizationRecord:
    line: int
    id: str
    data: OrganizationData
    active: bool | None  # None: keep as it is (new organisations are active)
    services: list[_ServiceRecord]
    fields: dict[str, str]


class _Collector:
    """Reads typed values out of one record, noting each problem with the record's line."""

    def __init__(self, errors: list[RowError], line: int) -> None:
        self.errors = errors
        self.line = line

    def add(self, name: str, message: LazyString) -> None:
        self.errors.append(RowError(self.line, name, message))

    def text(self, value: object, name: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        self.add(name, _l("Enter text here."))
        return ""

    def boolean(self, value: object, name: str, default: bool) -> bool:
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"false", "no", "0"}:
            return False
        self.add(name, _l("Enter true or false."))
        return default

    def integer(self, value: object, name: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
            return int(value)
        self.add(name, _l("Enter a whole number."))
        return None

    def moment(self, value: object, name: str) -> datetime | None:
        if value is None or value == "":
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.add(name, _l("Enter a date and time like 2026-11-30T14:05:00Z."))
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        if parsed > utcnow() + FUTURE_TOLERANCE:
            self.add(name, _l("This date and time is in the future."))
            return None
        return parsed

    def objects(self, value: object, name: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
        self.add(name, _l("Enter a list of objects here."))
        return []


# --- import: JSON -------------------------------------------------------------------------------


class _Located(dict[str, Any]):
    """A JSON object that knows the line on which it starts."""

    line: int = 1


class _LineAwareJson:
    """A small JSON parser that records where each object starts (the standard one does
    not say). Scalars are decoded by :func:`json.loads`, so they mean exactly the same."""

    _WHITESPACE = re.compile(r"[ \t\n\r]*")
    _NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
    _STRING_BODY = re.compile(r'(?:[^"\\\x00-\x1f]|\\.)*"', re.S)
    _LITERALS = (("true", True), ("false", False), ("null", None))

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def parse(self) -> Any:
        value = self._value(0)
        self._skip()
        if self.pos != len(self.text):
            self._fail("Extra data")
        return value

    def _line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def _fail(self, message: str) -> None:
        raise json.JSONDecodeError(message, self.text, self.pos)

    def _skip(self) -> None:
        match = self._WHITESPACE.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self._fail("Too deeply nested")
        self._skip()
        char = self._peek()
        if char == "{":
            return self._object(depth)
        if char == "[":
            return self._array(depth)
        if char == '"':
            return self._string()
        for literal, value in self._LITERALS:
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                return value
        match = self._NUMBER.match(self.text, self.pos)
        if match is None:
            self._fail("Expecting value")
        assert match is not None
        self.pos = match.end()
        return json.loads(match.group())

    def _string(self) -> str:
        match = self._STRING_BODY.match(self.text, self.pos + 1)
        if match is None:
            self._fail("Unterminated string")
        assert match is not None
        try:
            value = json.loads(self.text[self.pos : match.end()])
        except json.JSONDecodeError:
            self._fail("Invalid string")
        self.pos = match.end()
        return str(value)

    def _expect(self, char: str, message: str) -> None:
        self._skip()
        if self._peek() != char:
            self._fail(message)
        self.pos += 1

    def _object(self, depth: int) -> _Located:
        result = _Located()
        result.line = self._line(self.pos)
        self.pos += 1
        self._skip()
        if self._peek() == "}":
            self.pos += 1
            return result
        while True:
            self._skip()
            if self._peek() != '"':
                self._fail("Expecting property name enclosed in double quotes")
            key = self._string()
            self._expect(":", "Expecting ':' delimiter")
            result[key] = self._value(depth + 1)
            self._skip()
            if self._peek() == "}":
                self.pos += 1
                return result
            self._expect(",", "Expecting ',' delimiter")

    def _array(self, depth: int) -> list[Any]:
        result: list[Any] = []
        self.pos += 1
        self._skip()
        if self._peek() == "]":
            self.pos += 1
            return result
        while True:
            result.append(self._value(depth + 1))
            self._skip()
            if self._peek() == "]":
                self.pos += 1
                return result
            self._expect(",", "Expecting ',' delimiter")


def _line_of(value: object, default: int) -> int:
    return value.line if isinstance(value, _Located) else default


def _json_attributes(reader: _Collector, attributes: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The service type and target groups among a service's attributes (other taxonomies are ignored)."""
    service_types: list[str] = []
    groups: list[str] = []
    for attribute in attributes:
        term = attribute.get("taxonomy_term")
        if not isinstance(term, dict) or term.get("taxonomy") != TAXONOMY:
            continue
        term_code = reader.text(term.get("code"), "attributes.taxonomy_term.code")
        if attribute.get("link_type") == LINK_SERVICE_TYPE:
            service_types.append(term_code)
        elif attribute.get("link_type") == LINK_TARGET_GROUP:
            groups.append(term_code)
        else:
            reader.add("attributes.link_type", _l("Use the link type service_type or target_group."))
    if len(service_types) > 1:
        reader.add("attributes", _l("Give one type of service only."))
    return (service_types[0] if service_types else ""), groups


def _is_always_open(schedule: dict[str, Any]) -> bool:
    days = {d.strip().upper() for d in str(schedule.get("byday") or "").split(",")}
    return (
        str(schedule.get("freq") or "").upper() == "WEEKLY"
        and days == set(ALL_DAYS)
        and str(schedule.get("opens_at") or "").startswith("00:00")
        and str(schedule.get("closes_at") or "").startswith("23:59")
    )


def _json_service(raw: dict[str, Any], errors: list[RowError], owner_id: str) -> _ServiceRecord:
    reader = _Collector(errors, _line_of(raw, 1))
    if raw.get("organization_id") not in (None, "", owner_id):
        reader.add("organization_id", _l("This service is listed under another organisation."))
    service_type, groups = _json_attributes(reader, reader.objects(raw.get("attributes"), "attributes"))
    areas = reader.objects(raw.get("service_areas"), "service_areas")
    if len(areas) > 1:
        reader.add("service_areas", _l("Give one service area only: a country and, if needed, a region."))
    area = areas[0] if areas else {}
    phones = reader.objects(raw.get("phones"), "phones")
    if len(phones) > 1:
        reader.add("phones", _l("Give one phone number only."))
    schedules = reader.objects(raw.get("schedules"), "schedules")
    hours = [reader.text(s.get("description"), "schedules.description") for s in schedules if not _is_always_open(s)]
    languages = [
        reader.text(item.get("code"), "languages.code") for item in reader.objects(raw.get("languages"), "languages")
    ]
    capacities = reader.objects(raw.get("capacities"), "capacities")
    if len(capacities) > 1:
        reader.add("capacities", _l("Give one capacity only."))
    capacity = capacities[0] if capacities else None
    unit = capacity.get("unit") if capacity is not None else None
    status = reader.text(raw.get("status"), "status") or "active"
    if status not in STATUSES_INACTIVE | {"active"}:
        reader.add("status", _l("Use the status active, inactive, defunct or temporarily closed."))
    data = ServiceData(
        name=reader.text(raw.get("name"), "name"),
        service_type=service_type,
        member_state_code=(reader.text(area.get("extent"), "service_areas.extent").strip().upper() if area else ""),
        region=reader.text(area.get("name"), "service_areas.name") if area else "",
        description=reader.text(raw.get("description"), "description"),
        languages=languages,
        target_groups=groups,
        eligibility=reader.text(raw.get("eligibility_description"), "eligibility_description"),
        opening_hours="; ".join(h for h in hours if h.strip()),
        always_open=any(_is_always_open(s) for s in schedules),
        phone=reader.text(phones[0].get("number"), "phones.number") if phones else "",
        email=reader.text(raw.get("email"), "email"),
        capacity_unit=reader.text(unit.get("name"), "capacities.unit.name") if isinstance(unit, dict) else "",
    )
    return _ServiceRecord(
        line=reader.line,
        id=reader.text(raw.get("id"), "id").strip(),
        data=data,
        active=status == "active",
        unit_given=capacity is not None,
        capacity=(
            (
                reader.integer(capacity.get("available"), "capacities.available"),
                reader.integer(capacity.get("maximum"), "capacities.maximum"),
            )
            if capacity is not None
            else None
        ),
        capacity_updated=(
            reader.moment(capacity.get("updated"), "capacities.updated") if capacity is not None else None
        ),
        fields=JSON_SERVICE_FIELDS,
    )


def _json_records(document: Any, errors: list[RowError]) -> list[_OrganizationRecord]:
    if isinstance(document, dict):
        raw_organizations = document.get("organizations")
    else:
        raw_organizations = document
    if not isinstance(raw_organizations, list):
        errors.append(RowError(_line_of(document, 1), "organizations", _l("Give a list of organisations.")))
        return []
    records = []
    for raw in raw_organizations:
        if not isinstance(raw, dict):
            errors.append(RowError(_line_of(document, 1), "organizations", _l("Give a list of organisations.")))
            continue
        reader = _Collector(errors, _line_of(raw, 1))
        extension_value = raw.get(EXTENSION)
        extension: dict[str, Any] = extension_value if isinstance(extension_value, dict) else {}
        organization_id = reader.text(raw.get("id"), "id").strip()
        country = reader.text(extension.get("member_state_code"), f"{EXTENSION}.member_state_code").strip().upper()
        active = extension.get("active")
        data = OrganizationData(
            name=reader.text(raw.get("name"), "name"),
            member_state_code=country,
            description=reader.text(raw.get("description"), "description"),
            email=reader.text(raw.get("email"), "email"),
            website=reader.text(raw.get("website"), "website"),
        )
        records.append(
            _OrganizationRecord(
                line=reader.line,
                id=organization_id,
                data=data,
                active=reader.boolean(active, f"{EXTENSION}.active", True) if active is not None else None,
                services=[
                    _json_service(s, errors, organization_id) for s in reader.objects(raw.get("services"), "services")
                ],
                fields=JSON_ORGANIZATION_FIELDS,
            )
        )
    return records


def _json_text_records(text: str, errors: list[RowError]) -> list[_OrganizationRecord]:
    try:
        document = _LineAwareJson(text).parse()
    except json.JSONDecodeError as exc:
        errors.append(RowError(exc.lineno, "", _l("This is not valid JSON.")))
        return []
    return _json_records(document, errors)


def import_json(actor: User, content: bytes | str) -> ImportReport:
    """Check and, when nothing is wrong, apply an HSDS JSON document (as :func:`export_json` writes)."""
    return _import(actor, content, "json")


# --- import: CSV -----------------------------------------------------------------------------


def _uncell(text: str) -> str:
    """Undo the formula quoting of :func:`_cell`."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _csv_service(row: dict[str, str], reader: _Collector) -> _ServiceRecord | None:
    if not row["service_id"].strip() and not row["service_name"].strip():
        return None  # a row for an organisation without services
    status = row["service_status"].strip() or "active"
    if status not in STATUSES_INACTIVE | {"active"}:
        reader.add("service_status", _l("Use the status active, inactive, defunct or temporarily closed."))
    available = reader.integer(row["capacity_available"], "capacity_available")
    maximum = reader.integer(row["capacity_maximum"], "capacity_maximum")
    given = bool(row["capacity_available"].strip() or row["capacity_maximum"].strip())
    data = ServiceData(
        name=row["service_name"],
        service_type=row["service_type"].strip(),
        member_state_code=row["service_member_state"].strip().upper(),
        region=row["service_region"],
        description=row["service_description"],
        languages=_split(row["service_languages"]),
        target_groups=_split(row["service_target_groups"]),
        eligibility=row["service_eligibility_description"],
        opening_hours=row["service_opening_hours"],
        always_open=reader.boolean(row["service_always_open"], "service_always_open", False),
        phone=row["service_phone"],
        email=row["service_email"],
        capacity_unit=row["capacity_unit"],
    )
    return _ServiceRecord(
        line=reader.line,
        id=row["service_id"].strip(),
        data=data,
        active=status == "active",
        unit_given=True,
        capacity=(available, maximum) if given else None,
        capacity_updated=reader.moment(row["capacity_updated"].strip(), "capacity_updated") if given else None,
        fields=CSV_SERVICE_FIELDS,
    )


def _csv_records(text: str, errors: list[RowError]) -> list[_OrganizationRecord]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        errors.append(RowError(1, "", _l("The file is empty.")))
        return []
    except csv.Error:
        errors.append(RowError(1, "", _l("This is not a valid CSV file.")))
        return []
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        errors.append(RowError(1, "", _l("These columns are missing: %(columns)s.", columns=", ".join(missing))))
        return []
    by_id: dict[str, tuple[_OrganizationRecord, list[str]]] = {}
    records: list[_OrganizationRecord] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append(RowError(start, "", _l("This row is not valid CSV.")))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            errors.append(RowError(start, "", _l("This row does not have as many cells as the header.")))
            continue
        row = {name: _uncell(value) for name, value in zip(header, cells, strict=True)}
        collector = _Collector(errors, start)
        organization_cells = [row[name] for name in _ORGANIZATION_COLUMNS]
        organization_id = row["organization_id"].strip()
        if organization_id in by_id:
            record_, first_cells = by_id[organization_id]
            if first_cells != organization_cells:
                collector.add(
                    "organization_id",
                    _l("The organisation's details differ from those on line %(line)s.", line=record_.line),
                )
        else:
            record_ = _OrganizationRecord(
                line=start,
                id=organization_id,
                data=OrganizationData(
                    name=row["organization_name"],
                    member_state_code=row["organization_member_state"].strip().upper(),
                    description=row["organization_description"],
                    email=row["organization_email"],
                    website=row["organization_website"],
                ),
                active=collector.boolean(row["organization_active"], "organization_active", True)
                if row["organization_active"].strip()
                else None,
                services=[],
                fields=CSV_ORGANIZATION_FIELDS,
            )
            by_id[organization_id] = (record_, organization_cells)
            records.append(record_)
        service = _csv_service(row, collector)
        if service is not None:
            record_.services.append(service)
    return records


def import_csv(actor: User, content: bytes | str) -> ImportReport:
    """Check and, when nothing is wrong, apply a CSV file with the columns of :data:`CSV_COLUMNS`."""
    return _import(actor, content, "csv")


def import_file(actor: User, filename: str, content: bytes) -> ImportReport:
    """Import a ``.json`` or ``.csv`` upload."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "json":
        return import_json(actor, content)
    if suffix == "csv":
        return import_csv(actor, content)
    report = ImportReport(errors=[RowError(0, "", _l("Upload a .json or a .csv file."))])
    _record_refusal(actor, report, "unknown")
    return report


def _decode(content: bytes | str, report: ImportReport) -> str | None:
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        report.errors.append(RowError(line, "", _l("The file must be UTF-8 text.")))
        return None


# --- import: checking and applying ------------------------------------------------------------


class _Check:
    """Every rule of an import, with what exists already read in two queries."""

    def __init__(self, actor: User, records: list[_OrganizationRecord], errors: list[RowError]) -> None:
        self.actor = actor
        self.rules = Rules(actor)
        self.errors = errors
        organization_ids = [r.id for r in records if services.is_uuid(r.id)]
        service_ids = [s.id for r in records for s in r.services if services.is_uuid(s.id)]
        self.organizations = {
            o.id: o
            for o in db.session.execute(select(Organization).where(Organization.id.in_(organization_ids))).scalars()
        }
        self.services = {
            s.id: s
            for s in db.session.execute(
                select(Service).where(Service.id.in_(service_ids)).options(selectinload(Service.organization))
            ).scalars()
        }
        self.seen: dict[str, int] = {}

    def _problems(self, line: int, problems: list[Problem], fields: dict[str, str]) -> None:
        self.errors += [RowError(line, fields.get(name, name), message) for name, message in problems]

    def _unique(self, line: int, name: str, identifier: str) -> bool:
        if not services.is_uuid(identifier):
            self.errors.append(
                RowError(line, name, _l("Give an id in UUID form, like 3f7b145d-84af-42d7-8fae-eaca714b02b2."))
            )
            return False
        if identifier in self.seen:
            first = self.seen[identifier]
            self.errors.append(RowError(line, name, _l("This id is already used on line %(line)s.", line=first)))
            return False
        self.seen[identifier] = line
        return True

    def organization(self, record_: _OrganizationRecord) -> None:
        id_field = record_.fields.get("id", "id")
        if not self._unique(record_.line, id_field, record_.id):
            return
        existing = self.organizations.get(record_.id)
        if existing is not None and not services.can_manage_organization(self.actor, existing):
            self.errors.append(RowError(record_.line, id_field, _l("You may not change this organisation.")))
            return
        if existing is None and self.actor.role == Role.AGENCY_ADMIN:
            self.errors.append(
                RowError(record_.line, id_field, _l("You can only import the organisation of your own agency."))
            )
            return
        record_.data.agency_id = existing.agency_id if existing is not None else None
        if not record_.data.member_state_code and existing is not None:
            record_.data.member_state_code = existing.member_state_code
        self._problems(record_.line, self.rules.organization_problems(record_.data, existing=existing), record_.fields)
        for service in record_.services:
            self.service(record_, service)

    def service(self, owner: _OrganizationRecord, record_: _ServiceRecord) -> None:
        id_field = record_.fields.get("id", "id")
        if not record_.id:
            record_.id = str(uuid.uuid4())
        elif not self._unique(record_.line, id_field, record_.id):
            return
        existing = self.services.get(record_.id)
        if existing is not None and existing.organization_id != owner.id:
            self.errors.append(RowError(record_.line, id_field, _l("This service belongs to another organisation.")))
            return
        if existing is not None and not services.can_manage_service(self.actor, existing):
            self.errors.append(RowError(record_.line, id_field, _l("You may not change this service.")))
            return
        if not record_.unit_given:
            record_.data.capacity_unit = existing.capacity_unit if existing is not None else ""
        if not record_.data.member_state_code:  # no service area of its own: the whole of the organisation's country
            record_.data.member_state_code = owner.data.member_state_code
        problems, _clean = self.rules.service_problems(record_.data, organization_country=owner.data.member_state_code)
        if record_.capacity is not None:
            problems += services.capacity_problems(*record_.capacity)
        self._problems(record_.line, problems, record_.fields)


def _import(actor: User, content: bytes | str, file_format: str) -> ImportReport:
    if actor.role not in (Role.SYSTEM_ADMIN, Role.FOCAL_POINT, Role.AGENCY_ADMIN):
        raise PermissionDenied()
    report = ImportReport()
    text = _decode(content, report)
    if text is None:
        _record_refusal(actor, report, file_format)
        return report
    parse = _json_text_records if file_format == "json" else _csv_records
    records = parse(text, report.errors)
    check = _Check(actor, records, report.errors)
    for record_ in records:
        check.organization(record_)
    if report.errors:
        _record_refusal(actor, report, file_format)
        return report
    _write(actor, check, records, report, file_format)
    return report


def _record_refusal(actor: User, report: ImportReport, file_format: str) -> None:
    """Put the problems in the order of the file (each once) and note the refusal."""
    kept: dict[tuple[int, str, str], RowError] = {}
    for error in report.errors:
        kept.setdefault((error.line, error.field, str(error.message)), error)
    report.errors = sorted(kept.values(), key=lambda e: e.line)
    record("directory.import_refused", actor=actor, details={"format": file_format, "errors": len(report.errors)})


def _write(
    actor: User, check: _Check, records: list[_OrganizationRecord], report: ImportReport, file_format: str
) -> None:
    now = utcnow()
    for record_ in records:
        organization = check.organizations.get(record_.id)
        if organization is None:
            organization = Organization(id=record_.id, active=True)
            services.apply_organization(organization, record_.data)
            db.session.add(organization)
            report.organizations_created += 1
        elif services.apply_organization(organization, record_.data) or (
            record_.active is not None and record_.active != organization.active
        ):
            report.organizations_updated += 1
        if record_.active is not None:
            organization.active = record_.active
        db.session.flush()
        for service_record in record_.services:
            _apply_service(
                actor=actor, check=check, organization=organization, record_=service_record, report=report, now=now
            )
    db.session.flush()
    record(
        "directory.imported",
        actor=actor,
        details={
            "format": file_format,
            "organizations_created": report.organizations_created,
            "organizations_updated": report.organizations_updated,
            "services_created": report.services_created,
            "services_updated": report.services_updated,
            "capacities_updated": report.capacities_updated,
        },
    )


def _apply_service(
    *,
    actor: User,
    check: _Check,
    organization: Organization,
    record_: _ServiceRecord,
    report: ImportReport,
    now: datetime,
) -> None:
    _problems, clean = check.rules.service_problems(record_.data, organization_country=organization.member_state_code)
    service = check.services.get(record_.id)
    if service is None:
        service = Service(id=record_.id, organization_id=organization.id, active=record_.active)
        services.apply_service(service, clean)
        db.session.add(service)
        report.services_created += 1
    elif services.apply_service(service, clean) or service.active != record_.active:
        report.services_updated += 1
    service.active = record_.active
    if record_.capacity is not None:
        updated = record_.capacity_updated or now
        stored = service.capacity_updated_at
        if stored is None or updated > stored:
            available, maximum = record_.capacity
            if (available, maximum) != (service.capacity_available, service.capacity_maximum) or stored is None:
                report.capacities_updated += 1
            services.set_capacity(service, available=available, maximum=maximum, by=actor, at=updated)
