"""Reading the directory: search with filters, and services ranked for a person's needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import contains_eager

from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType, TargetGroup
from app.extensions import db

SEARCH_LIMIT = 100
CANDIDATE_LIMIT = 500


def organizations_in(member_state_code: str) -> list[Organization]:
    return list(
        db.session.execute(
            select(Organization)
            .where(Organization.member_state_code == member_state_code, Organization.active.is_(True))
            .order_by(Organization.name)
        ).scalars()
    )


@dataclass
class SearchFilters:
    member_state_code: str | None = None
    region: str = ""
    service_type: ServiceType | None = None
    language: str | None = None
    target_group: TargetGroup | None = None
    free_capacity: bool = False
    text: str = ""
    include_inactive: bool = False


def _active_services() -> Select[tuple[Service]]:
    return (
        select(Service)
        .join(Service.organization)
        .options(contains_eager(Service.organization))
        .where(Service.active.is_(True), Organization.active.is_(True))
    )


def search(filters: SearchFilters) -> list[Service]:
    """Services matching every filter given. Languages and target groups are JSON lists,
    filtered after the indexed part (country, type, active) has narrowed the rows."""
    query = (
        select(Service).join(Service.organization).options(contains_eager(Service.organization))
        if filters.include_inactive
        else _active_services()
    )
    if filters.member_state_code:
        query = query.where(Service.member_state_code == filters.member_state_code)
    if filters.service_type:
        query = query.where(Service.service_type == filters.service_type)
    if filters.region:
        query = query.where(or_(Service.region == "", Service.region.ilike(f"%{_escape(filters.region)}%")))
    if filters.free_capacity:
        query = query.where(Service.capacity_available > 0)
    if filters.text:
        pattern = f"%{_escape(filters.text)}%"
        query = query.where(or_(Service.name.ilike(pattern), Organization.name.ilike(pattern)))
    rows = db.session.execute(query.order_by(Service.name).limit(CANDIDATE_LIMIT)).scalars()
    matches = [
        s
        for s in rows
        if (not filters.language or filters.language in (s.languages or []))
        and (not filters.target_group or not s.target_groups or filters.target_group.value in s.target_groups)
    ]
    return matches[:SEARCH_LIMIT]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Needs:
    """What a person needs, from the case and its latest identification."""

    member_state_code: str
    service_types: tuple[ServiceType, ...] = ()  # most pressing first
    languages: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()  # TargetGroup values the person belongs to
    emergency: bool = False


@dataclass
class Suggestion:
    service: Service
    score: int
    reasons: list[str] = field(default_factory=list)  # codes, shown translated


NEED_WEIGHT = 60
LANGUAGE_WEIGHT = 20
TARGET_WEIGHT = 10
TARGET_MISMATCH = -40
FREE_CAPACITY = 15
FULL = -50
ALWAYS_OPEN = 5


def _fits_target(service: Service, needs: Needs) -> bool | None:
    """True when the service names one of the person's groups, False when it names only
    others, None when it names none (open to all) or the person's groups are unknown."""
    groups = set(service.target_groups or [])
    if not groups or not needs.target_groups:
        return None
    return bool(groups & set(needs.target_groups))


def rank(services: list[Service], needs: Needs) -> list[Suggestion]:
    suggestions = []
    wanted = list(needs.service_types)
    for service in services:
        score, reasons = 0, []
        if service.service_type in wanted:
            score += NEED_WEIGHT - 5 * wanted.index(service.service_type)
            reasons.append("need")
        if set(needs.languages) & set(service.languages or []):
            score += LANGUAGE_WEIGHT
            reasons.append("language")
        fits = _fits_target(service, needs)
        if fits is True:
            score += TARGET_WEIGHT
            reasons.append("target_group")
        elif fits is False:
            score += TARGET_MISMATCH
            reasons.append("other_target_group")
        free = service.has_free_capacity
        if free is True:
            score += FREE_CAPACITY
            reasons.append("free_capacity")
        elif free is False:
            score += FULL
            reasons.append("full")
        if needs.emergency and service.always_open:
            score += ALWAYS_OPEN
            reasons.append("always_open")
        suggestions.append(Suggestion(service, score, reasons))
    return sorted(suggestions, key=lambda s: (-s.score, s.service.name))


def suggest(needs: Needs, *, exclude: set[str] | None = None, limit: int = 10) -> list[Suggestion]:
    """Active services of the person's country that receive referrals here, best first."""
    query = (
        _active_services()
        .where(Service.member_state_code == needs.member_state_code, Organization.agency_id.is_not(None))
        .order_by(Service.name)
        .limit(CANDIDATE_LIMIT)
    )
    services = [s for s in db.session.execute(query).scalars() if s.id not in (exclude or set())]
    return rank(services, needs)[:limit]
