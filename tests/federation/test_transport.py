"""The transport in one process, for what two well-behaved installations never do: a peer
that answers garbage, a package id reused by another peer, a body that is not canonical
JSON, an old package delivered again, and the administrators' page for refused packages."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from flask import Flask
from joserfc import jwe, jws
from joserfc.jwk import OKPKey
from sqlalchemy import select

from app.accounts.roles import Role
from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.extensions import db
from app.federation import identity, transport, trust
from app.federation.envelope import CONTENT_ENC, CONTENT_TYPE, KEY_ALG, SIGNATURE_ALG, Party, new_package, seal
from app.federation.models import FederationOutbox
from tests.conftest import make_app
from tests.factories import make_user, new_totp_secret, sign_in_directly

US = "https://referral.fr.example"


@pytest.fixture
def federated(app: Flask, database_uri: str) -> Iterator[Flask]:
    keys = identity.new_keys()
    yield make_app(
        database_uri,
        FEDERATION_BASE_URL=US,
        FEDERATION_COUNTRY="FR",
        FEDERATION_SIGNING_KEY=keys["FEDERATION_SIGNING_KEY"],
        FEDERATION_ENCRYPTION_KEYS=[keys["FEDERATION_ENCRYPTION_KEYS"]],
        FEDERATION_ALLOW_LOCAL_HTTP=True,
        FEDERATION_DELIVER_AT_ONCE=False,
        FEDERATION_TIMEOUT_SECONDS=2,
    )


def a_peer(app: Flask, url: str, country: str) -> tuple[OKPKey, OKPKey]:
    """A peer in the trust list; returns its private signing and encryption keys."""
    signing, encryption = OKPKey.generate_key("Ed25519"), OKPKey.generate_key("X25519")
    with app.app_context():
        peer = trust.add_peer(None, base_url=url, country=country)
        for key in (signing, encryption):
            trust.add_key(None, peer, json.dumps(key.as_dict(private=False)))
        db.session.commit()
    return signing, encryption


def to_us(app: Flask, sender: Party, signing: OKPKey, *, package_id: str | None = None) -> tuple[str, str]:
    with app.app_context():
        package = new_package(
            "request", {"n": 1}, sender=sender, recipient=identity.us(), now=utcnow().replace(tzinfo=UTC)
        )
        if package_id:
            package["id"] = package_id
        ours = next(iter(identity.decryption_keys().values()))
        return package["id"], seal(package, signing_key=signing, recipient_key=ours)


def test_a_peer_answering_garbage_is_retried_and_does_not_stop_the_others(federated: Flask) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer_garbage() -> None:
        for _ in range(2):
            connection, _address = listener.accept()
            connection.recv(65536)
            connection.sendall(b"this is not HTTP\r\n\r\n")
            connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    a_peer(federated, f"http://127.0.0.1:{port}", "RO")
    with federated.app_context():
        peer = trust.peer_by_url(f"http://127.0.0.1:{port}")
        first = transport.enqueue(peer, "request", {"n": 1}, now=utcnow()).id
        second = transport.enqueue(peer, "request", {"n": 2}, now=utcnow()).id
        db.session.commit()
        counts = transport.deliver_due(utcnow())
        # The peer failed once: its second package waits for the next run instead of a second timeout.
        assert (counts.retrying, counts.delivered) == (1, 0)
        row = db.session.get(FederationOutbox, first)
        assert row.last_error == "unreachable" and row.attempts == 1
        assert db.session.get(FederationOutbox, second).attempts == 0
    listener.close()


def test_a_peers_packages_go_in_order_and_its_backlog_holds_up_no_other_peer(
    federated: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later package never overtakes an earlier one of the same peer (a receipt must not
    arrive before its referral), even once the earlier one waits longer for its back-off;
    and a peer with more waiting packages than one run takes does not starve the others."""
    a_peer(federated, "https://referral.ro.example", "RO")
    a_peer(federated, "https://referral.de.example", "DE")
    tried: list[str] = []

    def down(url: str, token: str) -> tuple[int | None, dict]:
        tried.append(url)
        return None, {}

    monkeypatch.setattr(transport, "_post", down)
    monkeypatch.setattr(transport, "BATCH", 2)
    start = utcnow()
    with federated.app_context():
        ro = trust.peer_by_url("https://referral.ro.example")
        de = trust.peer_by_url("https://referral.de.example")
        older = transport.enqueue(ro, "request", {"n": 1}, now=start).id
        queued = [transport.enqueue(ro, "request", {"n": n}, now=start + timedelta(seconds=n)).id for n in (2, 3)]
        transport.enqueue(de, "request", {"n": 4}, now=start + timedelta(seconds=4))
        db.session.commit()
        first = transport.deliver_due(start + timedelta(seconds=5))
        assert first.retrying == 2 and sorted(tried) == [
            "https://referral.de.example/federation/inbox",
            "https://referral.ro.example/federation/inbox",
        ]
        # 40 s on: the oldest is due again and fails again; the later ones, due since they
        # were queued, still wait behind it.
        transport.deliver_due(start + timedelta(seconds=40))
        assert db.session.get(FederationOutbox, older).attempts == 2
        assert [db.session.get(FederationOutbox, i).attempts for i in queued] == [0, 0]


def test_a_reused_package_id_of_another_peer_gets_no_receipt(federated: Flask) -> None:
    ro = Party("https://referral.ro.example", "RO")
    de = Party("https://referral.de.example", "DE")
    ro_signing, _ = a_peer(federated, ro.installation, "RO")
    de_signing, _ = a_peer(federated, de.installation, "DE")
    package_id, token = to_us(federated, ro, ro_signing)
    client = federated.test_client()
    assert client.post("/federation/inbox", data=token).status_code == 200
    again = client.post("/federation/inbox", data=token)
    assert again.status_code == 409 and "receipt" in again.get_json()  # the same peer: its receipt
    _, foreign = to_us(federated, de, de_signing, package_id=package_id)
    answer = client.post("/federation/inbox", data=foreign)
    assert answer.status_code == 409 and answer.get_json() == {"refused": "replayed"}


def test_a_body_that_is_not_canonical_json_is_refused(federated: Flask) -> None:
    ro = Party("https://referral.ro.example", "RO")
    signing, _ = a_peer(federated, ro.installation, "RO")
    with federated.app_context():
        package = new_package("request", {}, sender=ro, recipient=identity.us(), now=utcnow().replace(tzinfo=UTC))
        payload = json.dumps({**package, "body": {"n": float("nan")}}).encode()
        signed = jws.serialize_compact(
            {"alg": SIGNATURE_ALG, "kid": signing.thumbprint()}, payload, signing, algorithms=[SIGNATURE_ALG]
        )
        ours = next(iter(identity.decryption_keys().values()))
        token = jwe.encrypt_compact(
            {"alg": KEY_ALG, "enc": CONTENT_ENC, "kid": ours.thumbprint(), "cty": CONTENT_TYPE},
            signed.encode(),
            OKPKey.import_key(ours.as_dict(private=False)),
            algorithms=[KEY_ALG, CONTENT_ENC],
        )
    answer = federated.test_client().post("/federation/inbox", data=token)
    assert answer.status_code == 400 and answer.get_json() == {"refused": "malformed"}


def test_an_old_package_delivered_again_is_a_replay_with_its_receipt(federated: Flask) -> None:
    ro = Party("https://referral.ro.example", "RO")
    signing, _ = a_peer(federated, ro.installation, "RO")
    _, token = to_us(federated, ro, signing)
    client = federated.test_client()
    assert client.post("/federation/inbox", data=token).status_code == 200
    with federated.app_context():
        later = utcnow() + timedelta(days=2)  # past the 24-hour window
        status, answer = transport.receive(token.encode(), now=later)
        db.session.rollback()
    assert status == 409 and answer["refused"] == "replayed" and "receipt" in answer


def test_administrators_send_a_refused_package_again(federated: Flask) -> None:
    a_peer(federated, "https://referral.ro.example", "RO")
    with federated.app_context():
        row = transport.enqueue(trust.peer_by_url("https://referral.ro.example"), "request", {}, now=utcnow())
        row.refused_at, row.last_error = utcnow(), "refused:untrusted_key"
        db.session.commit()
        package_id = row.id
        admin = make_user(Role.SYSTEM_ADMIN, totp_secret=new_totp_secret())
    client = federated.test_client()
    with federated.app_context():
        sign_in_directly(client, admin)
    page = client.get("/admin/federation/").get_data(as_text=True)
    assert "our signing key is not in its trust list" in page and package_id in page
    assert client.post(f"/admin/federation/outbox/{package_id}/retry").status_code == 302
    with federated.app_context():
        row = db.session.get(FederationOutbox, package_id)
        assert row.refused_at is None and row.next_attempt_at <= utcnow()
        entry = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "federation.package_requeued")
        ).scalar_one()
        assert entry.actor_id == admin.id and entry.details["refusal"] == "refused:untrusted_key"
    response = client.post(f"/admin/federation/outbox/{package_id}/retry", follow_redirects=True)
    assert "There is no such refused package." in response.get_data(as_text=True)


def test_a_suspended_installation_gets_nothing_until_taken_back(federated: Flask) -> None:
    a_peer(federated, "https://referral.ro.example", "RO")
    with federated.app_context():
        peer = trust.peer_by_url("https://referral.ro.example")
        queued = transport.enqueue(peer, "request", {}, now=utcnow()).id
        trust.set_peer_active(None, peer, active=False)
        db.session.commit()
        assert transport.deliver_due(utcnow()).retrying == 1  # not even tried on the network
        assert db.session.get(FederationOutbox, queued).last_error == "suspended"
        with pytest.raises(transport.NoEncryptionKey):
            transport.enqueue(trust.peer_by_url("https://referral.ro.example"), "request", {}, now=utcnow())
