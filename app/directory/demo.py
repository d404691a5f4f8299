"""The demo directory: an organisation for each demo support agency, with a few services.

Fictitious, labelled "[DEMO]" like the demo agencies. Phone numbers are libphonenumber's
example numbers for each country (valid in form, not anyone's line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
from sqlalchemy import select

from app.accounts.demo import DEMO_LABEL
from app.accounts.models import Agency
from app.accounts.roles import AgencyKind
from app.core.db import utcnow
from app.directory.models import Organization, Service
from app.directory.vocabulary import ServiceType, TargetGroup
from app.extensions import db

SUPPORT_KINDS = (
    AgencyKind.SHELTER,
    AgencyKind.NGO_SUPPORT,
    AgencyKind.CHILD_PROTECTION,
    AgencyKind.HEALTH_SERVICE,
    AgencyKind.LEGAL_AID,
    AgencyKind.INTERPRETATION,
    AgencyKind.SOCIAL_SERVICES,
)

REGIONS = {"FR": "Île-de-France", "RO": "București", "DE": "Berlin", "BG": "София", "NL": "Noord-Holland"}
NATIONAL_LANGUAGES = {"FR": "fr", "RO": "ro", "DE": "de", "BG": "bg", "NL": "nl"}


@dataclass(frozen=True)
class DemoService:
    name: str
    service_type: ServiceType
    description: str
    extra_languages: tuple[str, ...] = ()
    target_groups: tuple[TargetGroup, ...] = ()
    eligibility: str = ""
    opening_hours: str = "Monday to Friday 9:00-17:00"
    always_open: bool = False
    capacity: tuple[int, int] | None = None  # (available, maximum)
    capacity_unit: str = ""
    regional: bool = True


PLANS: dict[AgencyKind, tuple[DemoService, ...]] = {
    AgencyKind.SHELTER: (
        DemoService(
            "Safe house for women",
            ServiceType.SAFE_ACCOMMODATION,
            "Confidential address, 24-hour staff, individual support plan.",
            extra_languages=("en", "ru", "uk"),
            target_groups=(TargetGroup.WOMEN, TargetGroup.FAMILIES),
            eligibility="Women presumed victims of trafficking, with or without children.",
            opening_hours="",
            always_open=True,
            capacity=(3, 12),
            capacity_unit="beds",
        ),
        DemoService(
            "Emergency night shelter",
            ServiceType.EMERGENCY_ACCOMMODATION,
            "Same-night admission on referral by police or a support organisation.",
            extra_languages=("en",),
            opening_hours="",
            always_open=True,
            capacity=(0, 6),
            capacity_unit="beds",
        ),
        DemoService(
            "Shelter counselling",
            ServiceType.COUNSELLING,
            "Information on rights, the reflection period and the next steps.",
            extra_languages=("en", "ar"),
        ),
    ),
    AgencyKind.NGO_SUPPORT: (
        DemoService(
            "Case support and accompaniment",
            ServiceType.COUNSELLING,
            "A caseworker accompanies the person to appointments with authorities and services.",
            extra_languages=("en", "es", "pt"),
        ),
        DemoService(
            "Emergency material assistance",
            ServiceType.MATERIAL_ASSISTANCE,
            "Clothing, hygiene kits, a phone and a small allowance for the first days.",
            extra_languages=("en",),
            opening_hours="Monday to Saturday 8:00-20:00",
        ),
    ),
    AgencyKind.CHILD_PROTECTION: (
        DemoService(
            "Guardianship and protection of children",
            ServiceType.CHILD_PROTECTION,
            "Appointment of a guardian and a protection plan for every child presumed a victim.",
            extra_languages=("en",),
            target_groups=(TargetGroup.CHILDREN, TargetGroup.UNACCOMPANIED_CHILDREN),
            opening_hours="",
            always_open=True,
        ),
        DemoService(
            "Children's emergency home",
            ServiceType.EMERGENCY_ACCOMMODATION,
            "Emergency places for unaccompanied children, with educators on site day and night.",
            extra_languages=("en", "ar", "ps"),
            target_groups=(TargetGroup.UNACCOMPANIED_CHILDREN,),
            opening_hours="",
            always_open=True,
            capacity=(2, 8),
            capacity_unit="beds",
        ),
    ),
    AgencyKind.HEALTH_SERVICE: (
        DemoService(
            "Medical consultation without an appointment",
            ServiceType.MEDICAL,
            "General medicine and sexual health, free of charge, no papers needed.",
            extra_languages=("en",),
            opening_hours="Monday to Friday 8:30-18:00",
        ),
        DemoService(
            "Trauma-informed psychological support",
            ServiceType.PSYCHOLOGICAL,
            "Individual sessions with a psychologist, with an interpreter when needed.",
            extra_languages=("en",),
        ),
    ),
    AgencyKind.LEGAL_AID: (
        DemoService(
            "Legal advice for victims",
            ServiceType.LEGAL_AID,
            "Residence permits, compensation claims and support through criminal proceedings.",
            extra_languages=("en",),
            regional=False,
        ),
    ),
    AgencyKind.INTERPRETATION: (
        DemoService(
            "Interpreting by phone and on site",
            ServiceType.INTERPRETATION,
            "Interpreters trained to work with victims, bound by confidentiality.",
            extra_languages=("en", "ar", "ru", "uk", "vi", "zh", "ti", "fa", "ur", "sq"),
            opening_hours="",
            always_open=True,
            regional=False,
        ),
    ),
    AgencyKind.SOCIAL_SERVICES: (
        DemoService(
            "Social assistance and benefits",
            ServiceType.MATERIAL_ASSISTANCE,
            "Access to social benefits, health insurance and housing applications.",
            extra_languages=("en",),
        ),
        DemoService(
            "Training and job search",
            ServiceType.EMPLOYMENT,
            "Language courses, vocational training and help to find work.",
            extra_languages=("en",),
            target_groups=(TargetGroup.WOMEN, TargetGroup.MEN),
        ),
    ),
}


def _demo_phone(country: str, offset: int) -> str | None:
    """The example number of ``country``, varied in its last digit while that stays valid."""
    example = phonenumbers.example_number(country)
    if example is None:
        return None
    base = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    candidate = base[:-1] + str((int(base[-1]) + offset) % 10)
    parsed = phonenumbers.parse(candidate)
    return candidate if phonenumbers.is_valid_number(parsed) else base


def load_demo_directory() -> int:
    """Create the demo organisations and services (in the current transaction); returns
    the number of services created."""
    agencies = db.session.execute(
        select(Agency)
        .where(Agency.kind.in_(SUPPORT_KINDS), Agency.name.startswith(DEMO_LABEL))
        .order_by(Agency.member_state_code, Agency.name)
    ).scalars()
    now = utcnow()
    created = 0
    for agency in agencies:
        country = agency.member_state_code
        organization = Organization(
            name=agency.name,
            description=f"{DEMO_LABEL} Fictitious organisation for trying the system.",
            email=f"contact.{agency.kind.value.replace('_', '-')}.{country.lower()}@demo.invalid",
            member_state_code=country,
            agency_id=agency.id,
            active=True,
        )
        db.session.add(organization)
        for index, plan in enumerate(PLANS[agency.kind]):
            national = NATIONAL_LANGUAGES.get(country, "en")
            service = Service(
                organization=organization,
                name=f"{DEMO_LABEL} {plan.name}",
                service_type=plan.service_type,
                description=plan.description,
                member_state_code=country,
                region=REGIONS.get(country, "") if plan.regional else "",
                languages=list(dict.fromkeys((national, *plan.extra_languages))),
                target_groups=[g.value for g in plan.target_groups],
                eligibility=plan.eligibility,
                opening_hours=plan.opening_hours,
                always_open=plan.always_open,
                phone=_demo_phone(country, index),
                email=organization.email,
                active=True,
                capacity_unit=plan.capacity_unit,
            )
            if plan.capacity is not None:
                service.capacity_available, service.capacity_maximum = plan.capacity
                service.capacity_updated_at = now - timedelta(hours=1 + index)
            db.session.add(service)
            created += 1
    db.session.flush()
    return created
