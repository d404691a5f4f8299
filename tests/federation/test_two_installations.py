"""Two installations as separate processes on 127.0.0.1, each with its own database (issue 5,
federation): a package is delivered once with a signed receipt; a tampered package, a
replay and a package signed by an untrusted key are refused and recorded, and change
nothing; the peer is stopped during delivery and the package arrives once after it restarts;
a package the peer refuses is kept, not retried."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.services import verify_chain
from app.core.db import utcnow
from app.extensions import db
from app.federation import identity, transport, trust
from app.federation.envelope import Party, new_package, seal
from app.federation.models import FederationInbox, FederationKey, FederationOutbox
from tests.federation.two_installations import Installation, running_pair


@pytest.fixture(scope="module")
def pair(database_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Installation, Installation]]:
    tmp: Path = tmp_path_factory.mktemp("installations")
    with running_pair(database_uri, tmp, ("fed_fr", "FR"), ("fed_ro", "RO")) as both:
        yield both


def queue(sender: Installation, receiver: Installation, body: dict, *, at=None) -> str:
    with sender.app.app_context():
        peer = trust.peer_by_url(receiver.base_url)
        row = transport.enqueue(peer, "request", body, now=at or utcnow())
        db.session.commit()
        return row.id


def deliver(sender: Installation, *, at=None) -> transport.DeliveryCounts:
    with sender.app.app_context():
        return transport.deliver_due(at or utcnow())


def outbox(sender: Installation, package_id: str) -> FederationOutbox:
    with sender.app.app_context():
        row = db.session.get(FederationOutbox, package_id)
        assert row is not None
        db.session.expunge(row)
        return row


def inbox_count(receiver: Installation, package_id: str | None = None) -> int:
    with receiver.app.app_context():
        query = select(func.count()).select_from(FederationInbox)
        if package_id is not None:
            query = query.where(FederationInbox.id == package_id)
        return db.session.execute(query).scalar_one()


def refusals(receiver: Installation) -> list[str]:
    with receiver.app.app_context():
        entries = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "federation.package_refused").order_by(AuditEntry.seq)
        ).scalars()
        return [e.details["refusal"] for e in entries]


def post(receiver: Installation, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        receiver.base_url + "/federation/inbox",
        data=token.encode("ascii"),
        headers={"Content-Type": "application/jose"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def sealed_by(sender: Installation, receiver: Installation, *, signing_key: OKPKey | None = None) -> str:
    """A package from ``sender`` to ``receiver``, made by hand (not through the outbox)."""
    with sender.app.app_context():
        package = new_package(
            "request",
            {"note": "by hand"},
            sender=identity.us(),
            recipient=Party(receiver.base_url, receiver.country),
            now=utcnow().replace(tzinfo=UTC),
        )
        recipient_key = trust.encryption_key(trust.peer_by_url(receiver.base_url))
        assert recipient_key is not None
        return seal(package, signing_key=signing_key or identity.signing_key(), recipient_key=recipient_key)


def test_a_package_is_delivered_once_with_a_signed_receipt(pair) -> None:
    france, romania = pair
    package_id = queue(france, romania, {"note": "hello Bucharest"})
    counts = deliver(france)
    assert (counts.delivered, counts.retrying, counts.refused) == (1, 0, 0)
    row = outbox(france, package_id)
    assert row.delivered_at is not None and row.attempts == 1
    with france.app.app_context():
        receipt = transport.verify_receipt(row.receipt, trust.peer_by_url(romania.base_url), package_id)
    assert receipt is not None and receipt["by"] == romania.base_url
    assert inbox_count(romania, package_id) == 1
    with romania.app.app_context():
        kept = db.session.get(FederationInbox, package_id)
        assert json.loads(kept.body) == {"note": "hello Bucharest"}
        assert kept.body_sealed != kept.body  # encrypted at rest
        assert verify_chain().ok
    assert deliver(france).delivered == 0  # nothing due any more: never delivered twice


def test_tampered_replayed_and_untrusted_packages_are_refused_and_recorded(pair) -> None:
    france, romania = pair
    before = inbox_count(romania)
    token = sealed_by(france, romania)
    assert post(romania, token)[0] == 200
    status, answer = post(romania, token)  # the same package again: a replay
    assert status == 409 and answer["refused"] == "replayed" and "receipt" in answer
    head, key, iv, ciphertext, tag = sealed_by(france, romania).split(".")
    flipped = ciphertext[:10] + ("A" if ciphertext[10] != "A" else "B") + ciphertext[11:]
    assert post(romania, ".".join((head, key, iv, flipped, tag))) == (400, {"refused": "undecryptable"})
    stranger = OKPKey.generate_key("Ed25519")
    assert post(romania, sealed_by(france, romania, signing_key=stranger)) == (403, {"refused": "untrusted_key"})
    assert post(romania, "not a package") == (400, {"refused": "malformed"})
    assert inbox_count(romania) == before + 1  # only the first, genuine one
    assert refusals(romania)[-4:] == ["replayed", "undecryptable", "untrusted_key", "malformed"]


def test_the_peer_is_down_then_up_and_the_package_arrives_once(pair) -> None:
    france, romania = pair
    romania.stop()
    try:
        package_id = queue(france, romania, {"note": "while you were away"})
        now = utcnow()
        assert deliver(france, at=now).retrying == 1
        row = outbox(france, package_id)
        assert row.delivered_at is None and row.attempts == 1 and row.last_error == "unreachable"
        assert row.next_attempt_at == now + timedelta(seconds=30)
        assert deliver(france, at=now + timedelta(seconds=10)).retrying == 0  # not due yet: back-off
        assert deliver(france, at=now + timedelta(seconds=31)).retrying == 1
        assert outbox(france, package_id).next_attempt_at == now + timedelta(seconds=31 + 60)
    finally:
        romania.start()
    assert deliver(france, at=now + timedelta(seconds=100)).delivered == 1
    assert outbox(france, package_id).attempts == 3
    assert inbox_count(romania, package_id) == 1
    assert deliver(france, at=now + timedelta(hours=2)).delivered == 0


def test_a_refused_package_is_kept_for_the_administrators_and_not_retried(pair) -> None:
    france, romania = pair
    with france.app.app_context():
        kid = identity.signing_key().thumbprint()
    with romania.app.app_context():  # Romania stops trusting France's signing key
        trust.revoke_key(None, kid, now=utcnow())
        db.session.commit()
    try:
        package_id = queue(france, romania, {"note": "after revocation"})
        assert deliver(france).refused == 1
        row = outbox(france, package_id)
        assert row.refused_at is not None and row.last_error == "refused:untrusted_key"
        assert deliver(france, at=utcnow() + timedelta(days=1)).refused == 0
        with france.app.app_context():
            assert [o.id for o in transport.undelivered()] == [package_id]
        assert inbox_count(romania, package_id) == 0
    finally:
        with romania.app.app_context():
            db.session.execute(select(FederationKey).where(FederationKey.kid == kid)).scalar_one().revoked_at = None
            db.session.commit()
    # Once Romania trusts the key again, an administrator sends it again: it arrives.
    with france.app.app_context():
        transport.retry_refused(None, package_id, now=utcnow())
        db.session.commit()
    assert deliver(france).delivered == 1
    assert inbox_count(romania, package_id) == 1


def test_a_package_queued_days_ago_is_still_delivered(pair) -> None:
    """Sealed at each attempt with that attempt's time: a long outage does not make it stale."""
    france, romania = pair
    package_id = queue(france, romania, {"note": "queued before a long outage"}, at=utcnow() - timedelta(days=3))
    assert deliver(france).delivered == 1
    assert inbox_count(romania, package_id) == 1
