"""Cross-border referrals inside one installation (issue 5): the route through both national
focal points with a deadline at each stage, cross-border consent, pseudonymised mode with
identification on request, the focal-point desk, and the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from app.accounts.models import MemberState
from app.accounts.roles import AgencyKind, Role
from app.accounts.services import FieldError
from app.audit.models import AuditEntry
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.notifications.models import Notification
from app.referrals import services
from app.referrals.deadlines import check_deadlines, focal_point_deadline, response_deadline
from app.referrals.models import Referral
from app.referrals.services import Answer, ReferralRequest
from app.referrals.sharing import shared_case
from app.referrals.vocabulary import (
    DeclineReason,
    IdentityDecision,
    LegalBasis,
    ReferralStatus,
    SharedPart,
    Urgency,
)
from tests.factories import (
    make_agency,
    make_case,
    make_consent,
    make_focal_point,
    make_organization,
    make_referral,
    make_service,
    make_user,
)

S = ReferralStatus


@pytest.fixture
def world(ctx):
    police = make_agency("FR", AgencyKind.POLICE)
    shelter = make_agency("RO", AgencyKind.SHELTER)
    ngo = make_agency("RO", AgencyKind.NGO_SUPPORT)
    fr_focal = make_focal_point("FR")
    ro_focal = make_focal_point("RO")
    case = make_case(police, family_name="Popescu")
    person = case.person
    person.given_names = "Ana"
    person.date_of_birth = "1999-04-02"
    person.citizenships = ["RO"]
    db.session.commit()
    return {
        "sender": make_user(Role.FRONTLINE, police),
        "sender_supervisor": make_user(Role.SUPERVISOR, police),
        "fr_focal": fr_focal,
        "fr_focal_supervisor": make_user(Role.SUPERVISOR, fr_focal.agency),
        "ro_focal": ro_focal,
        "ro_focal_supervisor": make_user(Role.SUPERVISOR, ro_focal.agency),
        "de_focal": make_focal_point("DE"),
        "shelter_worker": make_user(Role.CASEWORKER, shelter),
        "ngo_worker": make_user(Role.CASEWORKER, ngo),
        "case": case,
        "shelter": make_service(make_organization(shelter)),
        "ngo": make_service(make_organization(ngo)),
        "french": make_service(make_organization(make_agency("FR", AgencyKind.SHELTER))),
    }


def request_for(service, **overrides) -> ReferralRequest:
    values = {
        "service_id": service.id,
        "purpose": "A safe shelter near her family",
        "urgency": Urgency.URGENT,
        "shared_parts": [SharedPart.PROFILE, SharedPart.NEEDS],
    }
    values.update(overrides)
    return ReferralRequest(**values)


def notified(kind: str) -> set[int]:
    return set(db.session.execute(select(Notification.user_id).where(Notification.kind == kind)).scalars())


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def referral_count() -> int:
    return db.session.execute(select(func.count()).select_from(Referral)).scalar_one()


def test_the_route_through_both_focal_points(world) -> None:
    make_consent(world["case"], world["sender"], [], cross_border=True)
    referral = services.create(world["sender"], world["case"], request_for(world["shelter"]))
    db.session.commit()
    fr, ro = db.session.get(MemberState, "FR"), db.session.get(MemberState, "RO")
    # 1. At the sending focal point, with FR's focal-point deadline.
    assert referral.status == S.FOCAL_POINT_REVIEW and referral.origin_state_code == "FR"
    assert referral.due_at == focal_point_deadline(referral.sent_at, Urgency.URGENT, fr)
    assert notified("referral.for_review") == {world["fr_focal"].id}
    # Neither the receiving focal point nor the service sees it yet.
    for outsider in ("ro_focal", "shelter_worker", "de_focal"):
        with pytest.raises(NotFound):
            services.get_visible(world[outsider], referral.id)
    # 2. Approved: at the receiving focal point, with RO's focal-point deadline.
    services.transition(world["fr_focal"], referral, "approve", version=referral.version)
    db.session.commit()
    assert referral.status == S.FOCAL_POINT_ROUTING and referral.approved_at is not None
    assert referral.due_at == focal_point_deadline(referral.sent_at, Urgency.URGENT, ro)
    assert notified("referral.for_routing") == {world["ro_focal"].id}
    assert services.get_visible(world["ro_focal"], referral.id)[1].value == "receiving_fp"
    with pytest.raises(NotFound):
        services.get_visible(world["shelter_worker"], referral.id)
    # 3. Routed to another local service: its deadline is the service's, from RO settings.
    services.transition(
        world["ro_focal"], referral, "route", version=referral.version, answer=Answer(service_id=world["ngo"].id)
    )
    db.session.commit()
    assert referral.status == S.SENT and referral.service_id == world["ngo"].id
    assert referral.recipient_agency_id == world["ngo_worker"].agency_id
    assert referral.due_at == response_deadline(referral.sent_at, Urgency.URGENT, ro)
    assert notified("referral.received") == {world["ngo_worker"].id}
    assert notified("referral.routed") == {world["sender"].id, world["fr_focal"].id}
    with pytest.raises(NotFound):
        services.get_visible(world["shelter_worker"], referral.id)
    # 4. The service accepts: the sender and both focal points are told.
    services.transition(world["ngo_worker"], referral, "accept", version=referral.version)
    db.session.commit()
    assert referral.status == S.ACCEPTED
    assert notified("referral.accept") == {world["sender"].id, world["fr_focal"].id, world["ro_focal"].id}
    sides = [e.side for e in services.history(referral)]
    assert sides == ["sender", "sending_fp", "receiving_fp", "recipient"]
    assert [a for a in audit_actions() if a.startswith("referral.") and "view" not in a] == [
        "referral.created",
        "referral.submit",
        "referral.approve",
        "referral.route",
        "referral.accept",
    ]


def test_a_focal_point_can_start_one_directly(world) -> None:
    make_consent(world["case"], world["fr_focal"], [], cross_border=True)
    referral = services.create(world["fr_focal"], world["case"], request_for(world["shelter"]))
    assert referral.status == S.FOCAL_POINT_ROUTING and referral.submitted_at == referral.approved_at


def test_returned_with_a_comment_then_sent_again(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"])
    with pytest.raises(FieldError) as error:
        services.transition(world["fr_focal"], referral, "return", version=referral.version)
    assert error.value.field == "note"
    db.session.rollback()
    services.transition(
        world["fr_focal"], referral, "return", version=referral.version, answer=Answer(note="Add the languages")
    )
    db.session.commit()
    assert referral.status == S.RETURNED and referral.due_at is None and referral.return_note == "Add the languages"
    assert notified("referral.returned") == {world["sender"].id}
    services.transition(world["sender"], referral, "submit", version=referral.version)
    db.session.commit()
    assert referral.status == S.FOCAL_POINT_REVIEW and referral.return_note is None and referral.due_at is not None


@pytest.mark.parametrize(
    "consent",
    [None, "domestic_only", "withdrawn"],
)
def test_refused_without_cross_border_consent(world, consent) -> None:
    if consent == "domestic_only":
        make_consent(world["case"], world["sender"], [world["shelter"].organization])
    if consent == "withdrawn":
        given = make_consent(world["case"], world["sender"], [], cross_border=True)
        given.withdrawn_on = given.given_on
        given.withdrawn_recorded_by_id = world["sender"].id
        db.session.commit()
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(world["shelter"]))
    assert error.value.field == "legal_basis"
    db.session.rollback()
    assert referral_count() == 0


def test_vital_interest_exception_needs_no_consent(world) -> None:
    referral = services.create(
        world["fr_focal"],
        world["case"],
        request_for(
            world["shelter"],
            legal_basis=LegalBasis.VITAL_INTEREST,
            justification="She is in danger tonight and cannot be reached for consent",
        ),
    )
    assert referral.status == S.FOCAL_POINT_ROUTING and referral.consent_id is None


def test_refused_when_a_country_has_no_focal_point(world) -> None:
    db.session.get(MemberState, "RO").focal_point_agency_id = None
    db.session.commit()
    make_consent(world["case"], world["sender"], [], cross_border=True)
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(world["shelter"]))
    assert error.value.field == "service_id"
    assert services.cross_border_countries(world["case"]) == ["DE"]


def test_routing_outside_the_receiving_country_is_refused(world) -> None:
    referral = make_referral(world["fr_focal"], world["case"], world["shelter"])
    before = (referral.service_id, referral.status, referral.version)
    for service in (world["french"], None):
        with pytest.raises(FieldError) as error:
            services.transition(
                world["ro_focal"],
                referral,
                "route",
                version=referral.version,
                answer=Answer(service_id=service.id if service else "no-such-service"),
            )
        assert error.value.field == "service_id"
        db.session.rollback()
    db.session.refresh(referral)
    assert (referral.service_id, referral.status, referral.version) == before


def test_a_focal_point_cannot_act_for_another_country(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"])
    for actor, action in ((world["de_focal"], "approve"), (world["ro_focal"], "approve")):
        with pytest.raises(PermissionDenied):
            services.transition(actor, referral, action, version=referral.version)
        db.session.rollback()
    services.transition(world["fr_focal"], referral, "approve", version=referral.version)
    db.session.commit()
    for actor in (world["de_focal"], world["fr_focal"]):
        with pytest.raises(PermissionDenied):
            services.transition(
                actor, referral, "route", version=referral.version, answer=Answer(service_id=world["shelter"].id)
            )
        db.session.rollback()
    assert db.session.get(Referral, referral.id).status == S.FOCAL_POINT_ROUTING


def test_receiving_focal_point_declines_with_a_reason(world) -> None:
    referral = make_referral(world["fr_focal"], world["case"], world["shelter"])
    services.transition(
        world["ro_focal"],
        referral,
        "decline",
        version=referral.version,
        answer=Answer(decline_reason=DeclineReason.NOT_ELIGIBLE),
    )
    db.session.commit()
    assert referral.status == S.DECLINED and referral.routed_at is None
    assert notified("referral.decline") == {world["fr_focal"].id}
    # The service never saw it; the sender may send it again through the focal point.
    with pytest.raises(NotFound):
        services.get_visible(world["shelter_worker"], referral.id)
    services.transition(world["fr_focal"], referral, "forward", version=referral.version)
    assert referral.status == S.FOCAL_POINT_ROUTING


@pytest.mark.parametrize(("stage", "stuck"), [(S.FOCAL_POINT_REVIEW, "fr_focal"), (S.FOCAL_POINT_ROUTING, "ro_focal")])
def test_each_stage_reminds_expires_and_escalates(world, stage, stuck) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"], urgency="emergency")
    if stage == S.FOCAL_POINT_ROUTING:
        services.transition(world["fr_focal"], referral, "approve", version=referral.version)
        db.session.commit()
    db.session.execute(delete(Notification))
    db.session.commit()
    soon = referral.due_at - timedelta(minutes=5)
    assert check_deadlines(soon).reminded == [referral.id]
    db.session.commit()
    assert notified("referral.due_soon") == {world[stuck].id}
    later = referral.due_at + timedelta(minutes=1)
    assert check_deadlines(later).expired == [referral.id]
    db.session.commit()
    assert referral.status == S.EXPIRED
    assert notified("referral.escalated") == {world["sender_supervisor"].id, world[f"{stuck}_supervisor"].id}
    assert world[stuck].id in notified("referral.expired") and world["sender"].id in notified("referral.expired")


def test_a_returned_referral_has_no_running_deadline(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"], urgency="emergency")
    services.transition(world["fr_focal"], referral, "return", version=referral.version, answer=Answer(note="Why?"))
    db.session.commit()
    result = check_deadlines(referral.submitted_at + timedelta(days=30))
    assert result.expired == [] and result.reminded == []


# -- pseudonymised mode -----------------------------------------------------------------


def test_pseudonymised_shows_no_name_until_released(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"], pseudonymised=True)
    services.transition(world["fr_focal"], referral, "approve", version=referral.version)
    db.session.commit()
    shared = shared_case(world["ro_focal"], referral, referral.sent_at.date())
    assert shared.pseudonymised and shared.birth_year == 1999 and shared.citizenships == ["RO"]
    assert shared.given_names == shared.family_name == shared.date_of_birth == "" and shared.age is None
    assert shared.languages == []
    # Asking needs a reason; the sender's side decides.
    with pytest.raises(FieldError):
        services.request_identity(world["ro_focal"], referral, " ", version=referral.version)
    db.session.rollback()
    services.request_identity(world["ro_focal"], referral, "The court needs her name", version=referral.version)
    db.session.commit()
    assert notified("referral.identity_requested") == {world["sender"].id, world["fr_focal"].id}
    with pytest.raises(Conflict):
        services.request_identity(world["ro_focal"], referral, "Again", version=referral.version)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        services.decide_identity(world["ro_focal"], referral, release=True, version=referral.version)
    db.session.rollback()
    services.decide_identity(world["sender"], referral, release=True, version=referral.version)
    db.session.commit()
    assert referral.identity_decision == IdentityDecision.RELEASED
    assert notified("referral.identity_released") == {world["ro_focal"].id}
    shared = shared_case(world["ro_focal"], referral, referral.sent_at.date())
    assert (shared.given_names, shared.family_name, shared.date_of_birth) == ("Ana", "Popescu", "1999-04-02")
    assert not shared.pseudonymised
    actions = audit_actions()
    assert "referral.identity_requested" in actions and "referral.identity_released" in actions
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "referral.identity_requested")
    ).scalar_one()
    assert "court" not in str(entry.details) and entry.case_id == referral.case_id


def test_identity_refused_stays_pseudonymised(world) -> None:
    referral = make_referral(world["fr_focal"], world["case"], world["shelter"], pseudonymised=True)
    services.request_identity(world["ro_focal"], referral, "To book the bed", version=referral.version)
    services.decide_identity(world["fr_focal"], referral, release=False, version=referral.version)
    db.session.commit()
    assert referral.identity_decision == IdentityDecision.REFUSED
    assert shared_case(world["ro_focal"], referral, referral.sent_at.date()).family_name == ""
    # A later request is possible (a new reason), not a second pending one.
    assert services.identity_requestable(referral)


def test_pseudonymised_refuses_identifying_parts_and_domestic_referrals(world) -> None:
    make_consent(world["case"], world["sender"], [world["french"].organization], cross_border=True)
    with pytest.raises(FieldError) as error:
        services.create(
            world["sender"],
            world["case"],
            request_for(world["shelter"], pseudonymised=True, shared_parts=[SharedPart.IDENTITY]),
        )
    assert error.value.field == "shared_parts"
    with pytest.raises(FieldError) as error:
        services.create(world["sender"], world["case"], request_for(world["french"], pseudonymised=True))
    assert error.value.field == "pseudonymised"
    db.session.rollback()
    assert referral_count() == 0


def test_identity_of_a_non_pseudonymised_referral_cannot_be_requested(world) -> None:
    referral = make_referral(world["fr_focal"], world["case"], world["shelter"])
    with pytest.raises(Conflict):
        services.request_identity(world["ro_focal"], referral, "Name please", version=referral.version)
    with pytest.raises(PermissionDenied):
        services.request_identity(world["de_focal"], referral, "Name please", version=referral.version)


# -- the desk ---------------------------------------------------------------------------


def test_desk_lists_waiting_overdue_and_counts(world) -> None:
    outgoing = make_referral(world["sender"], world["case"], world["shelter"])
    other_case = make_case(world["shelter_worker"].agency)  # a Romanian case, referred to France
    french = world["french"]
    make_consent(other_case, world["ro_focal"], [], cross_border=True)
    incoming = services.create(world["ro_focal"], other_case, request_for(french))
    db.session.commit()
    desk = services.desk(world["fr_focal"], now=outgoing.sent_at)
    assert {r.id for r in desk.waiting} == {outgoing.id, incoming.id}
    assert desk.overdue == []
    assert [r.id for r in desk.incoming] == [incoming.id] and [r.id for r in desk.outgoing] == [outgoing.id]
    assert [(c.country, c.incoming_open, c.outgoing_open, c.outgoing_total) for c in desk.counts] == [("RO", 1, 1, 1)]
    late = services.desk(world["fr_focal"], now=max(outgoing.due_at, incoming.due_at) + timedelta(minutes=1))
    assert {r.id for r in late.overdue} == {outgoing.id, incoming.id}
    # The Romanian desk sees the incoming one only once approved.
    assert services.desk(world["ro_focal"], now=outgoing.sent_at).incoming == []
    with pytest.raises(PermissionDenied):
        services.desk(world["sender"], now=outgoing.sent_at)
    shown = (
        db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "referral.desk_viewed").order_by(AuditEntry.seq)
        )
        .scalars()
        .first()
    )
    assert set(shown.details["shown"]) == {outgoing.id, incoming.id}


# -- found in review ------------------------------------------------------------------------


def test_sent_lists_show_each_focal_point_only_its_own_countrys_referrals(world) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"])  # at the French focal point
    assert [r.id for r in services.sent(world["fr_focal"])] == [referral.id]
    assert services.sent(world["ro_focal"]) == []  # not even once approved: that is the desk's
    services.transition(world["fr_focal"], referral, "approve", version=referral.version)
    assert services.sent(world["ro_focal"]) == []


def test_withdrawal_tells_only_those_who_had_it_in_hand(world) -> None:
    returned = make_referral(world["sender"], world["case"], world["shelter"])
    services.transition(world["fr_focal"], returned, "return", version=returned.version, answer=Answer(note="Why?"))
    services.transition(world["sender"], returned, "withdraw", version=returned.version)
    db.session.commit()
    assert notified("referral.withdrawn") == set()  # the service never had it
    approved = make_referral(world["sender"], world["case"], world["ngo"])
    services.transition(world["fr_focal"], approved, "approve", version=approved.version)
    services.transition(world["fr_focal"], approved, "withdraw", version=approved.version)
    db.session.commit()
    assert notified("referral.withdrawn") == {world["ro_focal"].id}
    assert services.history(approved)[-1].side == "sending_fp"  # the focal point, not "sender"


def test_routing_keeps_to_the_child_protection_exception(world) -> None:
    child = make_case(world["sender"].agency, family_name="Minor", presumed_child=True)
    protection = make_service(make_organization(make_agency("RO", AgencyKind.CHILD_PROTECTION)))
    protection.service_type = ServiceType.CHILD_PROTECTION
    db.session.commit()
    referral = services.create(
        world["fr_focal"], child, request_for(protection, legal_basis=LegalBasis.CHILD_PROTECTION)
    )
    assert [s.service.id for s in services.routing_choices(referral)] == [protection.id]
    with pytest.raises(FieldError) as error:
        services.transition(
            world["ro_focal"], referral, "route", version=referral.version, answer=Answer(service_id=world["ngo"].id)
        )
    assert error.value.field == "service_id"


def test_only_the_designated_focal_point_agency_acts_for_its_country(world) -> None:
    other_national = make_user(Role.FOCAL_POINT, make_agency("FR", AgencyKind.NATIONAL_FOCAL_POINT))
    referral = make_referral(world["sender"], world["case"], world["shelter"])
    with pytest.raises(PermissionDenied):
        services.transition(other_national, referral, "approve", version=referral.version)
    db.session.rollback()
    assert services.desk(other_national, now=referral.sent_at).waiting == []


def test_a_referral_changed_meanwhile_is_skipped_by_the_tick_not_the_whole_run(world, monkeypatch) -> None:
    first = make_referral(world["sender"], world["case"], world["shelter"], urgency="emergency")
    second = make_referral(world["sender"], world["case"], world["ngo"], urgency="emergency")
    real_expire = services.expire

    def changed_meanwhile(referral, *, now):
        if referral.id == first.id:
            raise Conflict()  # what transition() raises when the version moved on
        real_expire(referral, now=now)

    monkeypatch.setattr(services, "expire", changed_meanwhile)
    result = check_deadlines(max(first.due_at, second.due_at) + timedelta(minutes=1))
    db.session.commit()
    assert result.skipped == 1 and result.expired == [second.id]
    assert db.session.get(Referral, first.id).status == S.FOCAL_POINT_REVIEW


def _withdraw_consents(case) -> None:
    from app.privacy.models import Consent

    for consent in db.session.execute(select(Consent).where(Consent.case_id == case.id)).scalars():
        consent.withdrawn_on = consent.given_on
        consent.withdrawn_recorded_by_id = consent.recorded_by_id
    db.session.commit()


@pytest.mark.parametrize(
    ("stage", "actor", "action"),
    [
        (S.FOCAL_POINT_REVIEW, "fr_focal", "approve"),
        (S.FOCAL_POINT_ROUTING, "ro_focal", "route"),
    ],
)
def test_a_withdrawn_consent_stops_the_referral_where_it_is(world, stage, actor, action) -> None:
    referral = make_referral(world["sender"], world["case"], world["shelter"])
    if stage == S.FOCAL_POINT_ROUTING:
        services.transition(world["fr_focal"], referral, "approve", version=referral.version)
        db.session.commit()
    _withdraw_consents(world["case"])
    with pytest.raises(Conflict, match="consent no longer covers"):
        services.transition(
            world[actor], referral, action, version=referral.version, answer=Answer(service_id=world["shelter"].id)
        )
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == stage
    # Consent recorded again: the referral goes on, on the new consent.
    fresh = make_consent(world["case"], world["sender"], [], cross_border=True)
    services.transition(
        world[actor], referral, action, version=referral.version, answer=Answer(service_id=world["shelter"].id)
    )
    assert referral.consent_id == fresh.id


def test_a_draft_is_not_sent_once_consent_is_withdrawn(world) -> None:
    draft = make_referral(world["sender"], world["case"], world["french"], send=False)
    _withdraw_consents(world["case"])
    with pytest.raises(Conflict):
        services.transition(world["sender"], draft, "send", version=draft.version)
    db.session.rollback()
    assert db.session.get(Referral, draft.id).status == S.DRAFT
