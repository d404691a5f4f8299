"""Account operations run from the command line, where there is no acting user yet."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts import passwords
from app.accounts.models import Agency, MemberState, User
from app.accounts.roles import AgencyKind, Role
from app.accounts.services import normalise_email
from app.audit.services import record
from app.core.db import utcnow
from app.extensions import db


class CliError(Exception):
    pass


def create_system_admin(*, email: str, display_name: str, agency_name: str, country: str, password: str) -> User:
    if db.session.get(MemberState, country) is None:
        raise CliError(f"Unknown country code {country!r}; use an ISO 3166-1 alpha-2 code such as FR.")
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise CliError("Enter a valid e-mail address.")
    if db.session.execute(select(User).where(User.email == email)).scalar_one_or_none() is not None:
        raise CliError("An account with this e-mail address already exists.")
    problem = passwords.password_problem(password, email=email)
    if problem is not None:
        raise CliError(str(problem))
    agency = db.session.execute(
        select(Agency).where(Agency.member_state_code == country, Agency.name == agency_name.strip())
    ).scalar_one_or_none()
    if agency is None:
        agency = Agency(
            name=agency_name.strip(), member_state_code=country, kind=AgencyKind.NATIONAL_FOCAL_POINT, active=True
        )
        db.session.add(agency)
        db.session.flush()
        record(
            "agency.created",
            actor=None,
            object_type="agency",
            object_id=agency.id,
            details={"via": "cli", "kind": agency.kind.value, "member_state": country},
        )
    user = User(
        email=email,
        display_name=display_name.strip(),
        agency_id=agency.id,
        role=Role.SYSTEM_ADMIN,
        preferred_language="en",
        active=True,
        password_hash=passwords.hash_password(password),
        password_changed_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        actor=None,
        object_type="user",
        object_id=user.id,
        details={"via": "cli", "role": Role.SYSTEM_ADMIN.value, "agency_id": agency.id},
    )
    return user
