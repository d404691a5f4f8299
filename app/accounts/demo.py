"""The demo dataset: fictitious agencies and one account per role, clearly labelled.

Loaded only by ``flask seed-demo`` outside production. Passwords and two-factor
secrets are generated at load time and printed once; nothing is fixed in the code.
"""

from __future__ import annotations

import secrets

import pyotp

from app.accounts import passwords, two_factor
from app.accounts.models import Agency, MemberState, User
from app.accounts.roles import AgencyKind, Role
from app.audit.services import record
from app.core.db import utcnow
from app.extensions import db

DEMO_LABEL = "[DEMO]"
DEMO_DOMAIN = "demo.invalid"  # RFC 2606: can never receive mail

# Every kind of agency in three Member States, and a few in two more.
DEMO_COUNTRIES = ("FR", "RO", "DE")
EXTRA_COUNTRIES = {
    "BG": (AgencyKind.NATIONAL_FOCAL_POINT, AgencyKind.POLICE, AgencyKind.SHELTER),
    "NL": (AgencyKind.NATIONAL_FOCAL_POINT, AgencyKind.NGO_SUPPORT),
}

# One account per role (in France), plus frontline, caseworker and focal point
# accounts in Romania and Germany so that cross-border journeys can be tried.
DEMO_USERS: tuple[tuple[str, Role, str, AgencyKind], ...] = (
    ("frontline", Role.FRONTLINE, "FR", AgencyKind.POLICE),
    ("caseworker", Role.CASEWORKER, "FR", AgencyKind.SHELTER),
    ("agency-admin", Role.AGENCY_ADMIN, "FR", AgencyKind.POLICE),
    ("focal-point", Role.FOCAL_POINT, "FR", AgencyKind.NATIONAL_FOCAL_POINT),
    ("supervisor", Role.SUPERVISOR, "FR", AgencyKind.NATIONAL_FOCAL_POINT),
    ("system-admin", Role.SYSTEM_ADMIN, "FR", AgencyKind.NATIONAL_FOCAL_POINT),
    ("frontline.ro", Role.FRONTLINE, "RO", AgencyKind.BORDER_GUARD),
    ("caseworker.ro", Role.CASEWORKER, "RO", AgencyKind.NGO_SUPPORT),
    ("focal-point.ro", Role.FOCAL_POINT, "RO", AgencyKind.NATIONAL_FOCAL_POINT),
    ("frontline.de", Role.FRONTLINE, "DE", AgencyKind.LABOUR_INSPECTORATE),
    ("caseworker.de", Role.CASEWORKER, "DE", AgencyKind.SHELTER),
    ("focal-point.de", Role.FOCAL_POINT, "DE", AgencyKind.NATIONAL_FOCAL_POINT),
)


def _agency_name(kind: AgencyKind, country: str) -> str:
    return f"{DEMO_LABEL} {kind.title} {country}"


def load_demo_data() -> str:
    """Create the demo dataset in the current transaction and return what to print."""
    agencies: dict[tuple[str, AgencyKind], Agency] = {}
    plan = [(country, kind) for country in DEMO_COUNTRIES for kind in AgencyKind]
    plan += [(country, kind) for country, kinds in EXTRA_COUNTRIES.items() for kind in kinds]
    for country, kind in plan:
        agency = Agency(name=_agency_name(kind, country), member_state_code=country, kind=kind, active=True)
        db.session.add(agency)
        agencies[(country, kind)] = agency
    db.session.flush()
    for (country, kind), agency in agencies.items():
        if kind == AgencyKind.NATIONAL_FOCAL_POINT:
            state = db.session.get(MemberState, country)
            if state is not None:
                state.focal_point_agency_id = agency.id

    password = "-".join(secrets.choice(_WORDS) for _ in range(4))
    password_hash = passwords.hash_password(password)
    now = utcnow()
    lines = [
        "",
        "=" * 78,
        " DEMO DATA loaded. Fictitious agencies and accounts, for trying the system only.",
        " This is printed once and not stored anywhere in clear: note it now.",
        "=" * 78,
        f" Password for every demo account:  {password}",
        " Two-factor: add the secret to an authenticator app (or run",
        "   .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")",
        "",
        f" {'e-mail':<36} {'role':<14} TOTP secret",
    ]
    for local, role, country, kind in DEMO_USERS:
        user = User(
            email=f"{local}@{DEMO_DOMAIN}",
            display_name=f"{DEMO_LABEL} {role.title} {country}",
            agency_id=agencies[(country, kind)].id,
            role=role,
            preferred_language="en",
            active=True,
            password_hash=password_hash,
            password_changed_at=now,
        )
        db.session.add(user)
        db.session.flush()
        secret = pyotp.random_base32()
        two_factor.store_secret(user, secret)
        user.totp_enabled_at = now
        lines.append(f" {user.email:<36} {role.value:<14} {secret}")
    from app.directory.demo import load_demo_directory

    load_demo_directory()
    record("demo.loaded", actor=None, details={"agencies": len(agencies), "users": len(DEMO_USERS)})
    lines += ["=" * 78, ""]
    return "\n".join(lines)


# A short word list for readable demo passwords (lower-case, no look-alikes).
_WORDS = (
    "amber",
    "basil",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "grove",
    "harbor",
    "indigo",
    "juniper",
    "kettle",
    "lantern",
    "meadow",
    "nectar",
    "orchid",
    "pebble",
    "quartz",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "velvet",
    "willow",
    "yonder",
    "zephyr",
    "anchor",
    "bramble",
    "cobalt",
)
