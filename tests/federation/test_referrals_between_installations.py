"""A referral between two installations, each a process of its own with its own database
(issue 5): it goes out from Romania and comes back accepted by a shelter in Bulgaria; a
pseudonymised one gets its identification details on request; a withdrawal travels the
other way; a receipt for a referral the peer never received, or one its state does not
allow, is refused, recorded, and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.federation import transport, trust
from app.federation.models import FederationOutbox
from app.notifications.models import Notification
from app.referrals import services
from app.referrals.models import Referral, ReferralEvent
from app.referrals.sharing import from_snapshot
from app.referrals.vocabulary import IdentityDecision, ReferralStatus, SharedPart, Urgency
from tests.factories import (
    make_agency,
    make_case,
    make_consent,
    make_focal_point,
    make_organization,
    make_service,
    make_user,
)
from tests.federation.two_installations import Installation, running_pair

S = ReferralStatus


@pytest.fixture(scope="module")
def pair(database_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, Installation]]:
    tmp: Path = tmp_path_factory.mktemp("referral_installations")
    with running_pair(database_uri, tmp, ("ref_ro", "RO"), ("ref_bg", "BG")) as both:
        yield both


@pytest.fixture(scope="module")
def people(pair: tuple[Installation, Installation]) -> dict[str, Any]:
    """Romania: a police officer (writing in Romanian) and the national focal point.
    Bulgaria: its focal point and a shelter's caseworker (reading in Bulgarian)."""
    romania, bulgaria = pair
    with romania.app.app_context():
        police = make_agency("RO", AgencyKind.POLICE, name="Poliția Română")
        officer = make_user(Role.FRONTLINE, police, language="ro")
        ro_focal = make_focal_point("RO")
        ro_ids = {"police": police.id, "officer": officer.id, "focal": ro_focal.id}
    with bulgaria.app.app_context():
        bg_focal = make_focal_point("BG", language="bg")
        shelter_agency = make_agency("BG", AgencyKind.SHELTER, name="Shelter Sofia")
        caseworker = make_user(Role.CASEWORKER, shelter_agency, language="bg")
        organization = make_organization(shelter_agency, name="Animus Association")
        shelter = make_service(organization, name="Safe house", languages=["bg", "ro"])
        bg_ids = {"focal": bg_focal.id, "caseworker": caseworker.id, "shelter": shelter.id}
    return {**ro_ids, **{f"bg_{k}": v for k, v in bg_ids.items()}}


def deliver(side: Installation) -> transport.DeliveryCounts:
    with side.app.app_context():
        return transport.deliver_due(utcnow())


def user(user_id: int) -> User:
    found = db.session.get(User, user_id)
    assert found is not None
    return found


def refer(romania: Installation, people: dict[str, Any], *, pseudonymised: bool = False) -> str:
    """The officer refers a new case to a shelter in Bulgaria; the Romanian focal point approves."""
    with romania.app.app_context():
        officer = user(people["officer"])
        case = make_case(officer.agency, family_name="Popescu")
        case.person.given_names = "Ana"
        case.person.citizenships = ["RO"]
        case.person.languages = ["ro"]
        db.session.commit()
        make_consent(case, officer, [], cross_border=True)
        parts = [SharedPart.PROFILE, SharedPart.NEEDS]
        if not pseudonymised:
            parts.append(SharedPart.IDENTITY)
        referral = services.create(
            officer,
            case,
            services.ReferralRequest(
                service_id="",
                country="BG",
                service_type=ServiceType.SAFE_ACCOMMODATION,
                purpose="Un loc sigur pentru noaptea aceasta",
                urgency=Urgency.URGENT,
                shared_parts=parts,
                pseudonymised=pseudonymised,
            ),
        )
        db.session.commit()
        assert referral.status == S.FOCAL_POINT_REVIEW
        queued = db.session.execute(select(FederationOutbox)).scalars()
        assert all(json.loads(row.package)["body"].get("referral") != referral.id for row in queued), (
            "nothing travels before the focal point approves"
        )
        services.transition(user(people["focal"]), referral, "approve", version=referral.version)
        db.session.commit()
        assert referral.status == S.FOCAL_POINT_ROUTING
        return referral.id


def on(side: Installation, referral_id: str) -> Referral:
    referral = db.session.get(Referral, referral_id)
    assert referral is not None, f"not on {side.name}"
    return referral


def test_a_referral_goes_out_and_comes_back_accepted(pair, people) -> None:
    romania, bulgaria = pair
    referral_id = refer(romania, people)
    assert deliver(romania).delivered == 1

    with bulgaria.app.app_context():
        copy = on(bulgaria, referral_id)  # the same id on both sides
        assert copy.status == S.FOCAL_POINT_ROUTING
        assert copy.case_id is None and copy.sender_user_id is None
        assert copy.origin_state_code == "RO" and copy.member_state_code == "BG"
        assert copy.remote_sender == "Poliția Română"
        assert copy.purpose == "Un loc sigur pentru noaptea aceasta" and copy.purpose_language == "ro"
        assert copy.due_at is not None  # Bulgaria's focal-point deadline runs
        assert copy.shared_snapshot_sealed != copy.shared_snapshot  # encrypted at rest
        bg_focal, caseworker = user(people["bg_focal"]), user(people["bg_caseworker"])
        shared = services_shared(bg_focal, copy)
        assert (shared.given_names, shared.family_name) == ("Ana", "Popescu")
        assert shared.citizenships == ["RO"]
        told = db.session.execute(select(Notification.kind).where(Notification.user_id == bg_focal.id)).scalars()
        assert "referral.for_routing" in list(told)
        # The Bulgarian focal point routes it to the shelter, which accepts.
        choices = services.routing_choices(copy)
        assert choices[0].service.id == people["bg_shelter"]  # the kind asked for comes first
        services.transition(
            bg_focal, copy, "route", version=copy.version, answer=services.Answer(service_id=people["bg_shelter"])
        )
        db.session.commit()
        services.transition(caseworker, copy, "accept", version=copy.version)
        db.session.commit()
        assert copy.status == S.ACCEPTED

    assert deliver(bulgaria).delivered == 2  # the routing, then the acceptance, in that order

    with romania.app.app_context():
        referral = on(romania, referral_id)
        assert referral.status == S.ACCEPTED
        assert referral.routed_at is not None and referral.accepted_at is not None
        assert referral.remote_service == "Safe house \u2013 Animus Association"
        events = list(
            db.session.execute(
                select(ReferralEvent).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.id)
            ).scalars()
        )
        assert [(e.action, e.side) for e in events] == [
            ("submit", "sender"),
            ("approve", "sending_fp"),
            ("route", "receiving_fp"),
            ("accept", "recipient"),
        ]
        assert events[-1].details["peer"] and events[-1].actor_id is None
        told = db.session.execute(select(Notification.kind).where(Notification.user_id == people["officer"])).scalars()
        assert {"referral.routed", "referral.accept"} <= set(told)
        # The officer's page shows where it went, in Romanian.
        client = romania.app.test_client()
        from tests.factories import sign_in_directly

        sign_in_directly(client, user(people["officer"]))
        page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
        assert "Safe house" in page and "Acceptat" in page


def services_shared(actor: User, referral: Referral):
    from app.referrals.sharing import shared_case

    return shared_case(actor, referral, utcnow().date())


def test_pseudonymised_identity_is_released_across_installations(pair, people) -> None:
    romania, bulgaria = pair
    referral_id = refer(romania, people, pseudonymised=True)
    deliver(romania)
    with bulgaria.app.app_context():
        copy = on(bulgaria, referral_id)
        assert "Popescu" not in (copy.shared_snapshot or "") and "Ana" not in (copy.shared_snapshot or "")
        shared = from_snapshot(copy)
        assert shared.pseudonymised and shared.birth_year is None and shared.citizenships == ["RO"]
        services.request_identity(user(people["bg_focal"]), copy, "Necesar pentru cazare", version=copy.version)
        db.session.commit()
    deliver(bulgaria)
    with romania.app.app_context():
        referral = on(romania, referral_id)
        assert services.identity_pending(referral)
        assert referral.identity_request == "Necesar pentru cazare"
        services.decide_identity(user(people["officer"]), referral, release=True, version=referral.version)
        db.session.commit()
    deliver(romania)
    with bulgaria.app.app_context():
        copy = on(bulgaria, referral_id)
        assert copy.identity_decision == IdentityDecision.RELEASED
        shared = from_snapshot(copy)
        assert (shared.given_names, shared.family_name) == ("Ana", "Popescu")
        assert not shared.pseudonymised


def test_a_withdrawal_travels_to_the_receiving_side(pair, people) -> None:
    romania, bulgaria = pair
    referral_id = refer(romania, people)
    deliver(romania)
    with romania.app.app_context():
        referral = on(romania, referral_id)
        services.transition(user(people["officer"]), referral, "withdraw", version=referral.version)
        db.session.commit()
    deliver(romania)
    with bulgaria.app.app_context():
        copy = on(bulgaria, referral_id)
        assert copy.status == S.WITHDRAWN
        told = db.session.execute(select(Notification.kind).where(Notification.user_id == people["bg_focal"])).scalars()
        assert "referral.withdrawn" in list(told)


def _refusals(side: Installation) -> list[dict]:
    with side.app.app_context():
        return [
            e.details
            for e in db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "federation.package_refused").order_by(AuditEntry.seq)
            ).scalars()
        ]


def test_a_receipt_for_a_referral_never_received_is_refused_and_changes_nothing(pair, people) -> None:
    romania, bulgaria = pair
    with bulgaria.app.app_context():
        peer = trust.peer_by_url(romania.base_url)
        stray = transport.enqueue(
            peer,
            "receipt",
            {"referral": str(uuid.uuid4()), "action": "accept", "at": "2026-11-29T12:00:00Z"},
            now=utcnow(),
        ).id
        db.session.commit()
    assert deliver(bulgaria).refused == 1
    with bulgaria.app.app_context():
        row = db.session.get(FederationOutbox, stray)
        assert row.refused_at is not None and row.last_error == "refused:unknown_referral"
    assert _refusals(romania)[-1] == {
        "refusal": "unknown_referral",
        "peer": _peer_id(romania, bulgaria),
        "package": stray,
    }


def test_a_receipt_the_state_does_not_allow_is_refused(pair, people) -> None:
    """Completing a referral still waiting for routing: out of order, refused, nothing changes."""
    romania, bulgaria = pair
    referral_id = refer(romania, people)
    with bulgaria.app.app_context():
        peer = trust.peer_by_url(romania.base_url)
        body = {
            "referral": referral_id,
            "action": "complete",
            "at": "2026-11-29T12:00:00Z",
            "outcome": "got_help",
            "services_delivered": None,
        }
        transport.enqueue(peer, "receipt", body, now=utcnow())
        db.session.commit()
    assert deliver(bulgaria).refused == 1
    assert _refusals(romania)[-1]["refusal"] == "not_applicable"
    with romania.app.app_context():
        assert on(romania, referral_id).status == S.FOCAL_POINT_ROUTING


def test_the_sending_side_cannot_act_for_the_receiving_side(pair, people) -> None:
    """A withdrawal is the sender's: the receiving installation may not send one back."""
    romania, bulgaria = pair
    referral_id = refer(romania, people)
    deliver(romania)
    with bulgaria.app.app_context():
        peer = trust.peer_by_url(romania.base_url)
        transport.enqueue(
            peer,
            "receipt",
            {"referral": referral_id, "action": "withdraw", "at": "2026-11-29T12:00:00Z"},
            now=utcnow(),
        )
        db.session.commit()
    assert deliver(bulgaria).refused == 1
    with romania.app.app_context():
        assert on(romania, referral_id).status == S.FOCAL_POINT_ROUTING


def _peer_id(side: Installation, other: Installation) -> int:
    with side.app.app_context():
        return trust.peer_by_url(other.base_url).id
