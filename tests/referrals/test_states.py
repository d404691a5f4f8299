"""The referral transition table: every (state, action) x side, as a table."""

from __future__ import annotations

import pytest

from app.accounts.roles import AgencyKind, Role
from app.core.errors import Conflict, PermissionDenied
from app.extensions import db
from app.referrals import services
from app.referrals.services import Answer
from app.referrals.states import REFERRAL_TRANSITIONS
from app.referrals.vocabulary import DeclineReason, Outcome, ReferralStatus
from tests.factories import make_agency, make_case, make_organization, make_referral, make_service, make_user

ACTIONS = sorted({row.action for row in REFERRAL_TRANSITIONS.rows})
SIDES = ("sender", "recipient", "system", "stranger")
ANSWERS = {
    "decline": Answer(decline_reason=DeclineReason.NO_CAPACITY),
    "complete": Answer(outcome=Outcome.GOT_HELP, services_delivered="Bed and meals"),
}


def _expected(status: ReferralStatus, action: str, side: str) -> ReferralStatus | None:
    row = REFERRAL_TRANSITIONS.find(status, action)
    if row is None or row.allowed.__name__ != f"is_{side}":
        return None
    return row.target


@pytest.fixture
def world(ctx):
    police = make_agency("FR", AgencyKind.POLICE)
    shelter = make_agency("FR", AgencyKind.SHELTER)
    other = make_agency("FR", AgencyKind.SHELTER)
    return {
        "sender": make_user(Role.FRONTLINE, police),
        "recipient": make_user(Role.CASEWORKER, shelter),
        "stranger": make_user(Role.CASEWORKER, other),
        "case": make_case(police),
        "service": make_service(make_organization(shelter)),
    }


def _put_in(referral, status: ReferralStatus) -> None:
    """Set a state directly with the fields its CHECK constraints need."""
    referral.status = status
    if status == ReferralStatus.DECLINED:
        referral.decline_reason = DeclineReason.NO_CAPACITY
    if status == ReferralStatus.COMPLETED:
        referral.outcome = Outcome.GOT_HELP
    db.session.commit()


@pytest.mark.parametrize("status", list(ReferralStatus))
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("side", SIDES)
def test_transition_table(world, status: ReferralStatus, action: str, side: str) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"], send=status != ReferralStatus.DRAFT)
    _put_in(referral, status)
    actor = None if side == "system" else world[side]
    expected = _expected(status, action, side)
    if expected is None:
        with pytest.raises((Conflict, PermissionDenied)):
            services.transition(actor, referral, action, version=referral.version, answer=ANSWERS.get(action))
        db.session.rollback()
        assert db.session.get(type(referral), referral.id).status == status
    else:
        services.transition(actor, referral, action, version=referral.version, answer=ANSWERS.get(action))
        db.session.commit()
        assert referral.status == expected


def test_stale_version_is_refused(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"])
    with pytest.raises(Conflict):
        services.transition(world["recipient"], referral, "accept", version=referral.version - 1)


def test_every_transition_names_one_side() -> None:
    for row in REFERRAL_TRANSITIONS.rows:
        assert row.allowed.__name__ in {"is_sender", "is_recipient", "is_system"}
