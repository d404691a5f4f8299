"""Directory rules: who may change which organisation and service, live capacity, phone
numbers and other checks, optimistic locking and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.accounts.models import Agency, User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.core.errors import Conflict, PermissionDenied
from app.directory import services
from app.directory.models import Organization, Service
from app.directory.services import InvalidEntry, OrganizationData, ServiceData
from app.directory.vocabulary import ServiceType
from app.extensions import db
from tests.factories import make_agency, make_organization, make_service, make_user

SCOPES = ("own_agency", "other_agency", "other_state")


@dataclass
class World:
    actor: User
    organizations: dict[str, Organization]
    services: dict[str, Service]


def build_world(role: Role) -> World:
    """The actor's own agency and another in France, one in Germany; each with an
    organisation linked to it and one service with tracked capacity."""
    own_kind = AgencyKind.NATIONAL_FOCAL_POINT if role == Role.FOCAL_POINT else AgencyKind.SHELTER
    agencies = {
        "own_agency": make_agency("FR", own_kind),
        "other_agency": make_agency("FR", AgencyKind.SHELTER),
        "other_state": make_agency("DE", AgencyKind.SHELTER),
    }
    actor = make_user(role, agencies["own_agency"])
    organizations = {scope: make_organization(agency) for scope, agency in agencies.items()}
    service_rows = {
        scope: make_service(org, capacity_unit="beds", capacity_available=2, capacity_maximum=10)
        for scope, org in organizations.items()
    }
    return World(actor, organizations, service_rows)  # type: ignore[arg-type]


MANAGES = {
    Role.SYSTEM_ADMIN: {"own_agency", "other_agency", "other_state"},
    Role.FOCAL_POINT: {"own_agency", "other_agency"},
    Role.AGENCY_ADMIN: {"own_agency"},
    Role.CASEWORKER: set(),
    Role.FRONTLINE: set(),
    Role.SUPERVISOR: set(),
}
UPDATES_CAPACITY = {
    Role.CASEWORKER: {"own_agency"},
    Role.AGENCY_ADMIN: {"own_agency"},
    Role.SYSTEM_ADMIN: set(),
    Role.FOCAL_POINT: set(),
    Role.FRONTLINE: set(),
    Role.SUPERVISOR: set(),
}
CASES = [(role, scope) for role in Role for scope in SCOPES]


def org_data(organization: Organization, **changes: object) -> OrganizationData:
    values: dict[str, object] = {
        "name": organization.name,
        "member_state_code": organization.member_state_code,
        "description": organization.description,
        "email": organization.email or "",
        "website": organization.website or "",
        "agency_id": organization.agency_id,
    }
    values.update(changes)
    return OrganizationData(**values)  # type: ignore[arg-type]


def service_data(country: str = "FR", **changes: object) -> ServiceData:
    values: dict[str, object] = {
        "name": "Night shelter",
        "service_type": ServiceType.EMERGENCY_ACCOMMODATION.value,
        "member_state_code": country,
        "languages": ["fr", "en"],
    }
    values.update(changes)
    return ServiceData(**values)  # type: ignore[arg-type]


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


@pytest.mark.parametrize(("role", "scope"), CASES, ids=[f"{r.value}-{s}" for r, s in CASES])
def test_organisation_scope(ctx, role: Role, scope: str) -> None:
    world = build_world(role)
    organization = world.organizations[scope]
    allowed = scope in MANAGES[role]
    assert services.can_manage_organization(world.actor, organization) is allowed
    visible = set(
        db.session.execute(
            select(Organization.id).where(services.manageable_organizations_filter(world.actor))
        ).scalars()
    )
    assert (organization.id in visible) is allowed
    if allowed:
        services.update_organization(world.actor, organization, org_data(organization, name="Renamed"), version=1)
        assert organization.name == "Renamed"
        assert audit_actions()[-1] == "organization.updated"
    else:
        with pytest.raises(PermissionDenied):
            services.update_organization(world.actor, organization, org_data(organization, name="Renamed"), version=1)
        with pytest.raises(PermissionDenied):
            services.set_organization_active(world.actor, organization, active=False)
        assert organization.active


@pytest.mark.parametrize(("role", "scope"), CASES, ids=[f"{r.value}-{s}" for r, s in CASES])
def test_service_scope(ctx, role: Role, scope: str) -> None:
    world = build_world(role)
    organization, service = world.organizations[scope], world.services[scope]
    allowed = scope in MANAGES[role]
    country = organization.member_state_code
    if allowed:
        created = services.create_service(world.actor, organization, service_data(country))
        services.set_service_active(world.actor, service, active=False)
        assert created.organization_id == organization.id and not service.active
        assert audit_actions()[-2:] == ["service.created", "service.deactivated"]
    else:
        with pytest.raises(PermissionDenied):
            services.create_service(world.actor, organization, service_data(country))
        with pytest.raises(PermissionDenied):
            services.update_service(world.actor, service, service_data(country), version=1)
        with pytest.raises(PermissionDenied):
            services.set_service_active(world.actor, service, active=False)
        assert service.active


@pytest.mark.parametrize(("role", "scope"), CASES, ids=[f"{r.value}-{s}" for r, s in CASES])
def test_capacity_scope(ctx, role: Role, scope: str) -> None:
    world = build_world(role)
    service = world.services[scope]
    allowed = scope in UPDATES_CAPACITY[role]
    assert services.can_update_capacity(world.actor, service) is allowed
    if allowed:
        services.update_capacity(world.actor, service, available=5, maximum=10, version=service.version)
        assert service.capacity_available == 5
    else:
        with pytest.raises(PermissionDenied):
            services.update_capacity(world.actor, service, available=5, maximum=10, version=service.version)
        assert service.capacity_available == 2


@pytest.fixture
def staff(ctx) -> tuple[User, Service]:
    shelter = make_agency("FR", AgencyKind.SHELTER)
    service = make_service(make_organization(shelter), capacity_unit="beds", capacity_available=2, capacity_maximum=10)
    return make_user(Role.CASEWORKER, shelter), service  # type: ignore[return-value]


def test_capacity_update_records_who_and_when(staff) -> None:
    worker, service = staff
    before = utcnow()
    services.update_capacity(worker, service, available=3, maximum=10, version=service.version)
    db.session.commit()
    assert (service.capacity_available, service.capacity_maximum) == (3, 10)
    assert service.capacity_updated_by_id == worker.id
    assert service.capacity_updated_at is not None and service.capacity_updated_at >= before
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "service.capacity_updated")).scalar_one()
    assert entry.object_id == service.id
    assert entry.details == {
        "available": 3,
        "maximum": 10,
        "changes": {"capacity_available": {"from": 2, "to": 3}},  # the maximum did not change
    }


@pytest.mark.parametrize(
    ("available", "maximum", "field"),
    [
        (11, 10, "capacity_available"),
        (-1, 10, "capacity_available"),
        (0, -5, "capacity_maximum"),
        (3, None, "capacity_maximum"),
        (None, 3, "capacity_available"),
        (1, 100_001, "capacity_maximum"),
    ],
)
def test_capacity_out_of_range_is_refused_and_nothing_changes(staff, available, maximum, field) -> None:
    worker, service = staff
    with pytest.raises(InvalidEntry) as error:
        services.update_capacity(worker, service, available=available, maximum=maximum, version=service.version)
    assert field in [name for name, _message in error.value.problems]
    db.session.rollback()
    assert (service.capacity_available, service.capacity_maximum) == (2, 10)
    assert service.capacity_updated_by_id is None
    assert "service.capacity_updated" not in audit_actions()


def test_capacity_above_maximum_has_a_clear_message(staff) -> None:
    worker, service = staff
    with pytest.raises(InvalidEntry) as error:
        services.update_capacity(worker, service, available=11, maximum=10, version=service.version)
    assert str(error.value.message) == "There cannot be more free places than the maximum."


def test_capacity_can_be_untracked_and_full(staff) -> None:
    worker, service = staff
    services.update_capacity(worker, service, available=0, maximum=10, version=service.version)
    assert service.has_free_capacity is False
    services.update_capacity(worker, service, available=None, maximum=None, version=service.version)
    assert service.has_free_capacity is None


def test_stale_capacity_version_is_a_conflict(staff) -> None:
    worker, service = staff
    stale = service.version
    services.update_capacity(worker, service, available=4, maximum=10, version=stale)
    db.session.commit()
    with pytest.raises(Conflict):
        services.update_capacity(worker, service, available=1, maximum=10, version=stale)
    assert service.capacity_available == 4


def test_stale_organisation_version_is_a_conflict(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = make_organization(country="FR")
    services.update_organization(admin, organization, org_data(organization, name="First"), version=1)
    db.session.commit()
    with pytest.raises(Conflict):
        services.update_organization(admin, organization, org_data(organization, name="Second"), version=1)


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("+33 1 23 45 67 89", "FR", "+33123456789"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("(030) 123456", "DE", "+4930123456"),
        ("+40 21 123 4567", "FR", "+40211234567"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(ctx, typed: str, country: str, stored: str) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = make_organization(country=country)
    service = services.create_service(admin, organization, service_data(country, phone=typed))
    assert service.phone == stored


@pytest.mark.parametrize("typed", ["12345", "+33 1 23", "call us", "+999 123 456 789", "0" * 41])
def test_bad_phone_numbers_are_refused(ctx, typed: str) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = make_organization(country="FR")
    with pytest.raises(InvalidEntry) as error:
        services.create_service(admin, organization, service_data("FR", phone=typed))
    assert error.value.problems[0][0] == "phone"
    assert "phone number" in str(error.value.problems[0][1])
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Service)).scalar_one() == 0


def test_every_problem_is_reported_at_once(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = make_organization(country="FR")
    data = service_data(
        "XX",
        name="",
        service_type="sauna",
        languages=["french"],
        target_groups=["pets"],
        email="not an address",
        region="r" * 121,
    )
    with pytest.raises(InvalidEntry) as error:
        services.create_service(admin, organization, data)
    fields = {name for name, _message in error.value.problems}
    assert fields == {"name", "service_type", "member_state_code", "languages", "target_groups", "email", "region"}


def test_focal_point_stays_in_own_country(ctx) -> None:
    focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    with pytest.raises(InvalidEntry) as error:
        services.create_organization(focal, OrganizationData(name="Abroad", member_state_code="DE"))
    assert error.value.field == "member_state_code"
    organization = services.create_organization(focal, OrganizationData(name="At home", member_state_code="FR"))
    with pytest.raises(InvalidEntry) as error:
        services.create_service(focal, organization, service_data("DE"))
    assert error.value.field == "member_state_code"


def test_agency_admin_creates_only_their_own_agencys_organisation(ctx) -> None:
    shelter = make_agency("FR", AgencyKind.SHELTER)
    admin = make_user(Role.AGENCY_ADMIN, shelter)
    with pytest.raises(InvalidEntry) as error:
        services.create_organization(admin, OrganizationData(name="Unlinked", member_state_code="FR"))
    assert error.value.field == "agency_id"
    organization = services.create_organization(
        admin, OrganizationData(name="Ours", member_state_code="FR", agency_id=shelter.id)
    )
    assert organization.agency_id == shelter.id
    with pytest.raises(InvalidEntry) as error:
        services.create_organization(
            admin, OrganizationData(name="Twice", member_state_code="FR", agency_id=shelter.id)
        )
    assert error.value.field == "agency_id"


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.FRONTLINE, Role.SUPERVISOR])
def test_other_roles_cannot_create_organisations(ctx, role: Role) -> None:
    actor = make_user(role)
    with pytest.raises(PermissionDenied):
        services.create_organization(actor, OrganizationData(name="X", member_state_code="FR"))


def test_agency_links_are_checked(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    german = make_agency("DE", AgencyKind.SHELTER)
    linked = make_agency("FR", AgencyKind.SHELTER)
    make_organization(linked)
    for agency, expected in ((german, "organisation's country"), (linked, "already linked")):
        with pytest.raises(InvalidEntry) as error:
            services.create_organization(
                admin, OrganizationData(name="New", member_state_code="FR", agency_id=agency.id)
            )
        assert error.value.field == "agency_id" and expected in str(error.value.message)
    choices = services.linkable_agencies(admin, None)
    assert german in choices and linked not in choices


def test_website_and_email_of_organisations_are_checked(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    data = OrganizationData(name="Org", member_state_code="FR", email="nobody", website="javascript:alert(1)")
    with pytest.raises(InvalidEntry) as error:
        services.create_organization(admin, data)
    assert {name for name, _message in error.value.problems} == {"email", "website"}


def test_creations_are_audited_with_codes_and_ids_and_updates_with_before_and_after(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = services.create_organization(
        admin, OrganizationData(name="Secret name", member_state_code="FR", description="Long text")
    )
    service = services.create_service(admin, organization, service_data("FR", name="Secret service"))
    services.update_service(
        admin, service, service_data("FR", name="Renamed service", languages=["fr"]), version=service.version
    )
    services.update_organization(
        admin, organization, org_data(organization, email="contact@example.org"), version=organization.version
    )
    services.set_service_active(admin, service, active=False)
    db.session.commit()
    entries = list(db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())
    assert [e.action for e in entries] == [
        "organization.created",
        "service.created",
        "service.updated",
        "organization.updated",
        "service.deactivated",
    ]
    created = repr([e.details for e in entries[:2]])
    assert "Secret" not in created and "Long text" not in created
    # A directory entry is no one's personal data: an update shows what it was and became.
    assert entries[2].details["changed"] == ["languages", "name"]
    assert entries[2].details["changes"] == {
        "languages": {"from": ["fr", "en"], "to": ["fr"]},
        "name": {"from": "Secret service", "to": "Renamed service"},
    }
    assert entries[3].details["changes"] == {"email": {"from": None, "to": "contact@example.org"}}
    assert entries[4].details["changes"] == {"active": {"from": True, "to": False}}


def test_inactive_services_are_seen_only_by_who_looks_after_them(ctx) -> None:
    shelter = make_agency("FR", AgencyKind.SHELTER)
    service = make_service(make_organization(shelter), active=False)
    assert services.can_view_service(make_user(Role.CASEWORKER, shelter), service)  # type: ignore[arg-type]
    assert not services.can_view_service(make_user(Role.FRONTLINE), service)  # type: ignore[arg-type]
    focal = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    assert services.can_view_service(focal, service)  # type: ignore[arg-type]


def test_unchanged_save_writes_nothing(ctx) -> None:
    admin = make_user(Role.SYSTEM_ADMIN)
    organization = make_organization(country="FR")
    services.update_organization(admin, organization, org_data(organization), version=1)
    db.session.commit()
    assert organization.version == 1
    assert audit_actions() == []
    assert db.session.get(Agency, admin.agency_id) is not None


def test_demo_directory_covers_every_demo_support_agency(ctx) -> None:
    from app.accounts.demo import load_demo_data
    from app.directory.demo import SUPPORT_KINDS

    load_demo_data()
    db.session.commit()
    support = list(db.session.execute(select(Agency).where(Agency.kind.in_(SUPPORT_KINDS))).scalars())
    assert {a.member_state_code for a in support} == {"FR", "RO", "DE", "BG", "NL"}
    organizations = list(db.session.execute(select(Organization)).scalars())
    assert sorted(o.agency_id for o in organizations) == sorted(a.id for a in support)
    for organization in organizations:
        assert organization.name.startswith("[DEMO]") and 1 <= len(organization.services) <= 3
        for service in organization.services:
            assert service.name.startswith("[DEMO]")
            assert service.phone is not None and services.normalise_phone(service.phone, None) == service.phone
        if organization.agency is not None and organization.agency.kind == AgencyKind.SHELTER:
            assert any(s.capacity_maximum for s in organization.services)
