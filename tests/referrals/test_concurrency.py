"""Two people act on one referral at the same moment: only one can win (PostgreSQL).

Each thread has its own database session, reads the referral at version 1, waits for the
other at a barrier, then transitions and commits. The optimistic version check in the
UPDATE lets exactly one through; the other gets a Conflict and changes nothing.
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.core.errors import Conflict, DomainError
from app.extensions import db
from app.referrals import services
from app.referrals.models import Referral, ReferralEvent
from app.referrals.vocabulary import ReferralStatus
from tests.factories import make_agency, make_case, make_organization, make_referral, make_service, make_user

pytestmark = pytest.mark.postgresql


def _race(app: Flask, referral_id: str, moves: list[tuple[int, str]]) -> list[str]:
    barrier = threading.Barrier(len(moves))
    results: list[str] = ["" for _ in moves]

    def run(index: int, user_id: int, action: str) -> None:
        with app.test_request_context():
            user = db.session.get(User, user_id)
            referral = db.session.get(Referral, referral_id)
            assert user is not None and referral is not None
            referral.case  # noqa: B018 - load before the race, as a page would
            version = referral.version
            barrier.wait(timeout=10)
            try:
                services.transition(user, referral, action, version=version)
                db.session.commit()
                results[index] = action
            except DomainError as exc:
                db.session.rollback()
                results[index] = "conflict" if isinstance(exc, Conflict) else type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, uid, action)) for i, (uid, action) in enumerate(moves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.parametrize("pair", [("accept", "withdraw"), ("accept", "accept"), ("decline_free", "accept")])
def test_only_one_of_two_racing_transitions_wins(app: Flask, pair: tuple[str, str]) -> None:
    with app.test_request_context():
        police = make_agency("FR", AgencyKind.POLICE)
        shelter = make_agency("FR", AgencyKind.SHELTER)
        sender = make_user(Role.FRONTLINE, police)
        workers = [make_user(Role.CASEWORKER, shelter), make_user(Role.CASEWORKER, shelter)]
        referral = make_referral(sender, make_case(police), make_service(make_organization(shelter)))
        referral_id, sender_id = referral.id, sender.id
        worker_ids = [w.id for w in workers]
        db.session.remove()
    first, second = pair
    moves = [
        (worker_ids[0], "acknowledge" if first == "decline_free" else first),
        (sender_id if second == "withdraw" else worker_ids[1], second),
    ]
    results = _race(app, referral_id, moves)
    winners = [r for r in results if r != "conflict"]
    assert len(winners) == 1, results
    assert results.count("conflict") == 1, results
    with app.app_context():
        stored = db.session.get(Referral, referral_id)
        assert stored is not None
        expected = {
            "accept": ReferralStatus.ACCEPTED,
            "withdraw": ReferralStatus.WITHDRAWN,
            "acknowledge": ReferralStatus.ACKNOWLEDGED,
        }[winners[0]]
        assert stored.status == expected
        assert stored.version == 3  # created (1), sent (2), one winning transition (3)
        events = db.session.execute(
            select(func.count(ReferralEvent.id)).where(ReferralEvent.referral_id == referral_id)
        ).scalar_one()
        assert events == 2  # send + the winner
        db.session.remove()


def test_racing_requests_accept_and_withdraw(app: Flask) -> None:
    """The same race through HTTP: two signed-in people post at once with the same version."""
    from tests.factories import sign_in_directly

    with app.test_request_context():
        police = make_agency("FR", AgencyKind.POLICE)
        shelter = make_agency("FR", AgencyKind.SHELTER)
        sender = make_user(Role.FRONTLINE, police)
        worker = make_user(Role.CASEWORKER, shelter)
        referral = make_referral(sender, make_case(police), make_service(make_organization(shelter)))
        url, version = f"/referrals/{referral.id}", referral.version
        clients = [app.test_client(), app.test_client()]
        sign_in_directly(clients[0], worker)
        sign_in_directly(clients[1], sender)
        db.session.remove()
    barrier = threading.Barrier(2)
    statuses: list[int] = [0, 0]

    def post(index: int, action: str) -> None:
        barrier.wait(timeout=10)
        statuses[index] = clients[index].post(f"{url}/{action}", data={"version": version}).status_code

    threads = [threading.Thread(target=post, args=(0, "accept")), threading.Thread(target=post, args=(1, "withdraw"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [302, 409], statuses
    with app.app_context():
        stored = db.session.get(Referral, referral.id)
        assert stored is not None
        assert stored.status in (ReferralStatus.ACCEPTED, ReferralStatus.WITHDRAWN)
        db.session.remove()
