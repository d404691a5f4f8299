"""The referral transition table: every (state, action) x side, as a table, for a domestic
referral and for a cross-border one (whose route adds both national focal points)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.accounts.roles import AgencyKind, Role
from app.core.db import utcnow
from app.core.errors import Conflict, PermissionDenied
from app.extensions import db
from app.referrals import services
from app.referrals.services import Answer
from app.referrals.states import REFERRAL_TRANSITIONS
from app.referrals.vocabulary import AT_FOCAL_POINT, DeclineReason, Outcome, ReferralStatus
from tests.factories import (
    make_agency,
    make_case,
    make_focal_point,
    make_organization,
    make_referral,
    make_service,
    make_user,
)

ACTIONS = sorted({row.action for row in REFERRAL_TRANSITIONS.rows})
SIDES = ("sender", "recipient", "system", "stranger")
CROSS_BORDER_SIDES = ("sender", "sending_fp", "receiving_fp", "recipient", "system", "stranger")
CROSS_BORDER_STAGES = (*AT_FOCAL_POINT, ReferralStatus.RETURNED)
ANSWERS = {
    "decline": Answer(decline_reason=DeclineReason.NO_CAPACITY),
    "complete": Answer(outcome=Outcome.GOT_HELP, services_delivered="Bed and meals"),
    "return": Answer(note="Add the interpreter language"),
}
# Which sides each guard lets through, written out independently of the guards' code.
DOMESTIC_GUARDS = {
    "is_sender": {"sender"},
    "is_domestic_sender": {"sender"},
    "is_recipient": {"recipient"},
    "is_system": {"system"},
}
CROSS_BORDER_GUARDS = {
    "is_sender": {"sender", "sending_fp"},  # the focal point sees its country's cases
    "is_cross_border_sender": {"sender"},
    "is_sending_focal_point": {"sending_fp"},
    "is_receiving_focal_point": {"receiving_fp"},
    "is_recipient": {"recipient"},
    "is_system": {"system"},
}


def _expected(status: ReferralStatus, action: str, side: str, guards: dict[str, set[str]]) -> ReferralStatus | None:
    row = REFERRAL_TRANSITIONS.find(status, action)
    if row is None or side not in guards.get(row.allowed.__name__, set()):
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


@pytest.mark.parametrize("status", [s for s in ReferralStatus if s not in CROSS_BORDER_STAGES])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("side", SIDES)
def test_transition_table(world, status: ReferralStatus, action: str, side: str) -> None:
    referral = make_referral(world["sender"], world["case"], world["service"], send=status != ReferralStatus.DRAFT)
    _put_in(referral, status)
    actor = None if side == "system" else world[side]
    expected = _expected(status, action, side, DOMESTIC_GUARDS)
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
        assert row.allowed.__name__ in set(DOMESTIC_GUARDS) | set(CROSS_BORDER_GUARDS)


@pytest.fixture
def abroad(ctx):
    police = make_agency("FR", AgencyKind.POLICE)
    shelter = make_agency("RO", AgencyKind.SHELTER)
    service = make_service(make_organization(shelter))
    return {
        "sender": make_user(Role.FRONTLINE, police),
        "sending_fp": make_focal_point("FR"),
        "receiving_fp": make_focal_point("RO"),
        "recipient": make_user(Role.CASEWORKER, shelter),
        "stranger": make_focal_point("DE"),
        "case": make_case(police),
        "service": service,
    }


def _put_in_cross_border(referral, status: ReferralStatus) -> None:
    """A cross-border state with the stage times it implies (approved, routed)."""
    now = utcnow()
    if status != ReferralStatus.DRAFT:
        referral.submitted_at = now
    if status not in (ReferralStatus.DRAFT, ReferralStatus.FOCAL_POINT_REVIEW, ReferralStatus.RETURNED):
        referral.approved_at = now
    if status not in (ReferralStatus.DRAFT, *CROSS_BORDER_STAGES):
        referral.routed_at = now
    if status == ReferralStatus.RETURNED:
        referral.return_note = "Add the languages"
    if status in (ReferralStatus.DRAFT, ReferralStatus.RETURNED):
        referral.sent_at = referral.due_at = None
    else:
        referral.sent_at, referral.due_at = now, now + timedelta(hours=24)
    _put_in(referral, status)


# Every row of the table (the pairs without a row are refused alike, tested above).
@pytest.mark.parametrize(("status", "action"), [(row.source, row.action) for row in REFERRAL_TRANSITIONS.rows])
@pytest.mark.parametrize("side", CROSS_BORDER_SIDES)
def test_cross_border_transition_table(abroad, status: ReferralStatus, action: str, side: str) -> None:
    referral = make_referral(abroad["sender"], abroad["case"], abroad["service"], send=False)
    assert referral.cross_border
    _put_in_cross_border(referral, status)
    actor = None if side == "system" else abroad[side]
    expected = _expected(status, action, side, CROSS_BORDER_GUARDS)
    answer = ANSWERS.get(action, Answer())
    if action == "route":
        answer = Answer(service_id=abroad["service"].id)
    if expected is None:
        with pytest.raises((Conflict, PermissionDenied)):
            services.transition(actor, referral, action, version=referral.version, answer=answer)
        db.session.rollback()
        assert db.session.get(type(referral), referral.id).status == status
    else:
        services.transition(actor, referral, action, version=referral.version, answer=answer)
        db.session.commit()
        assert referral.status == expected
