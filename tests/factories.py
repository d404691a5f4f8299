"""Factories for test data. Each returns committed rows."""

from __future__ import annotations

import itertools

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from app.accounts import passwords, sessions, two_factor
from app.accounts.models import Agency, User
from app.accounts.roles import AgencyKind, Role
from app.core.db import utcnow
from app.extensions import db

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_agency(
    country: str = "FR", kind: AgencyKind = AgencyKind.POLICE, name: str | None = None, active: bool = True
) -> Agency:
    agency = Agency(name=name or f"Agency {next(_counter)}", member_state_code=country, kind=kind, active=active)
    db.session.add(agency)
    db.session.commit()
    return agency


def make_user(
    role: Role = Role.FRONTLINE,
    agency: Agency | None = None,
    *,
    email: str | None = None,
    password: str | None = PASSWORD,
    totp_secret: str | None = None,
    active: bool = True,
    language: str = "en",
) -> User:
    if agency is None:
        kind = AgencyKind.NATIONAL_FOCAL_POINT if role == Role.FOCAL_POINT else AgencyKind.POLICE
        agency = make_agency(kind=kind)
    user = User(
        email=email or f"user{next(_counter)}@example.org",
        display_name=f"Test {role.value}",
        agency_id=agency.id,
        role=role,
        preferred_language=language,
        active=active,
        password_hash=passwords.hash_password(password) if password else None,
        deactivated_at=None if active else utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    if totp_secret:
        two_factor.store_secret(user, totp_secret)
        user.totp_enabled_at = utcnow()
    db.session.commit()
    return user


def new_totp_secret() -> str:
    return pyotp.random_base32()


def sign_in_directly(client: FlaskClient, user: User) -> None:
    """Open a server-side session for ``user`` without the sign-in pages (view tests)."""
    _record, token = sessions.start(user, client_address="127.0.0.1", user_agent="pytest")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["sid"] = token


def sign_in_as(app: Flask, client: FlaskClient, user_id: int) -> None:
    """Sign ``client`` in (again) as the user with ``user_id``."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        sign_in_directly(client, user)


def client_for(app: Flask, user_id: int) -> FlaskClient:
    """A test client signed in as the user with ``user_id``."""
    client = app.test_client()
    sign_in_as(app, client, user_id)
    return client


def sign_in_through_pages(
    client: FlaskClient, email: str, password: str = PASSWORD, totp_secret: str | None = None
) -> None:
    response = client.post("/sign-in", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if totp_secret:
        response = client.post("/sign-in/code", data={"code": pyotp.TOTP(totp_secret).now()})
        assert response.status_code == 302


def make_case(agency: Agency, *, family_name: str = "Doe", presumed_child: bool = False) -> object:
    """A case with a person, owned by ``agency`` (committed)."""
    from app.cases.models import Case, Person, new_reference
    from app.cases.vocabulary import CaseStatus

    person = Person(member_state_code=agency.member_state_code)
    person.family_name = family_name
    db.session.add(person)
    case = Case(
        reference=new_reference(agency.member_state_code, 2026),
        member_state_code=agency.member_state_code,
        owner_agency_id=agency.id,
        person_id=person.id,
        status=CaseStatus.OPEN,
        presumed_child=presumed_child,
        level=2,
    )
    db.session.add(case)
    db.session.commit()
    return case


def make_draft(officer: User) -> object:
    from app.identification import records

    draft = records.start_draft(officer)
    db.session.commit()
    return draft


def make_organization(agency: Agency | None = None, *, country: str = "FR", name: str | None = None) -> object:
    """A directory organisation; linked to ``agency`` when given (it then receives referrals)."""
    from app.directory.models import Organization

    organization = Organization(
        name=name or f"Organisation {next(_counter)}",
        member_state_code=agency.member_state_code if agency else country,
        agency_id=agency.id if agency else None,
        active=True,
    )
    db.session.add(organization)
    db.session.commit()
    return organization


def make_service(organization: object, **fields: object) -> object:
    """A service of ``organization`` (safe accommodation by default; override any field)."""
    from app.directory.models import Service
    from app.directory.vocabulary import ServiceType

    values: dict[str, object] = {
        "name": f"Service {next(_counter)}",
        "service_type": ServiceType.SAFE_ACCOMMODATION,
        "member_state_code": organization.member_state_code,  # type: ignore[attr-defined]
        "languages": ["en", "fr"],
        "target_groups": [],
    }
    values.update(fields)
    service = Service(organization_id=organization.id, **values)  # type: ignore[attr-defined]
    db.session.add(service)
    db.session.commit()
    return service


def make_consent(case: object, recorder: User, organizations: list[object], *, cross_border: bool = False) -> object:
    """Active consent to referral and data sharing with ``organizations`` (and, when asked,
    to a transfer to another country)."""
    from datetime import date

    from app.privacy.models import Consent, GivenBy

    consent = Consent(
        case_id=case.id,  # type: ignore[attr-defined]
        person_id=case.person_id,  # type: ignore[attr-defined]
        given_by=GivenBy.PERSON,
        given_on=date(2026, 11, 1),
        language="en",
        assistance_referral=True,
        data_sharing=True,
        cross_border=cross_border,
        organization_ids=[o.id for o in organizations],  # type: ignore[attr-defined]
        recorded_by_id=recorder.id,
    )
    db.session.add(consent)
    db.session.commit()
    return consent


def make_referral(
    sender: User,
    case: object,
    service: object,
    *,
    urgency: str = "urgent",
    send: bool = True,
    pseudonymised: bool = False,
) -> object:
    """A referral made through the service layer, with consent recorded first (committed).
    A service in another country than the case's makes a cross-border referral."""
    from app.referrals import services
    from app.referrals.vocabulary import MINIMUM_SHARED, Urgency

    organization = service.organization  # type: ignore[attr-defined]
    from app.referrals.services import covering_consent

    cross_border = service.member_state_code != case.member_state_code  # type: ignore[attr-defined]
    if covering_consent(case, organization.id, cross_border=cross_border) is None:  # type: ignore[arg-type]
        make_consent(case, sender, [organization], cross_border=cross_border)
    referral = services.create(
        sender,
        case,  # type: ignore[arg-type]
        services.ReferralRequest(
            service_id=service.id,  # type: ignore[attr-defined]
            purpose="Safe place to sleep tonight",
            urgency=Urgency(urgency),
            shared_parts=list(MINIMUM_SHARED),
            send=send,
            pseudonymised=pseudonymised,
        ),
    )
    db.session.commit()
    return referral


def make_focal_point(
    country: str, *, email: str | None = None, language: str = "en", totp_secret: str | None = None
) -> User:
    """A national focal point agency for ``country``, set in its settings, with one user."""
    from app.accounts.models import MemberState

    agency = make_agency(country, AgencyKind.NATIONAL_FOCAL_POINT, name=f"Focal point {country} {next(_counter)}")
    state = db.session.get(MemberState, country)
    assert state is not None
    state.focal_point_agency_id = agency.id
    db.session.commit()
    return make_user(Role.FOCAL_POINT, agency, email=email, language=language, totp_secret=totp_secret)
