"""The trust list page (system administrators): add an installation and its public keys,
revoke a key; bad input next to the field with what was typed, nothing changed; audited."""

from __future__ import annotations

import json

from flask import Flask
from joserfc.jwk import OKPKey
from sqlalchemy import func, select

from app.accounts.roles import Role
from app.audit.models import AuditEntry
from app.extensions import db
from app.federation.models import FederationKey, FederationPeer
from tests.factories import make_user, new_totp_secret, sign_in_directly

RO_URL = "https://referral.ro.example"


def admin_client(app: Flask):
    client = app.test_client()
    with app.app_context():
        admin = make_user(Role.SYSTEM_ADMIN, totp_secret=new_totp_secret())
        sign_in_directly(client, admin)
        return client, admin.id


def count(app: Flask, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def actions_by(app: Flask, user_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                select(AuditEntry.action).where(AuditEntry.actor_id == user_id).order_by(AuditEntry.seq)
            ).scalars()
        )


def test_administrator_adds_a_peer_its_keys_and_revokes_one(app: Flask) -> None:
    client, admin_id = admin_client(app)
    assert "The trust list is empty." in client.get("/admin/federation/").get_data(as_text=True)
    response = client.post("/admin/federation/peers", data={"base_url": RO_URL + "/", "country": "RO"})
    assert response.status_code == 302
    with app.app_context():
        peer = db.session.execute(select(FederationPeer)).scalar_one()
        peer_id = peer.id
        assert (peer.base_url, peer.country) == (RO_URL, "RO")
    signing = OKPKey.generate_key("Ed25519")
    response = client.post(
        "/admin/federation/keys", data={"peer": peer_id, "jwk": json.dumps(signing.as_dict(private=False))}
    )
    assert response.status_code == 302
    page = client.get("/admin/federation/").get_data(as_text=True)
    assert signing.thumbprint() in page and "Signing (Ed25519)" in page
    response = client.post(f"/admin/federation/keys/{signing.thumbprint()}/revoke")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.execute(select(FederationKey)).scalar_one().revoked_at is not None
    assert actions_by(app, admin_id)[-3:] == [
        "federation.peer_added",
        "federation.key_added",
        "federation.key_revoked",
    ]


def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(app: Flask) -> None:
    client, _admin = admin_client(app)
    response = client.post("/admin/federation/peers", data={"base_url": "http://plain.example", "country": "RO"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="base_url-error"' in text and "http://plain.example" in text
    response = client.post("/admin/federation/peers", data={"base_url": RO_URL, "country": "UA"})
    assert response.status_code == 400 and 'id="country-error"' in response.get_data(as_text=True)
    assert count(app, FederationPeer) == 0
    client.post("/admin/federation/peers", data={"base_url": RO_URL, "country": "RO"})
    with app.app_context():
        peer_id = db.session.execute(select(FederationPeer.id)).scalar_one()
    private = json.dumps(OKPKey.generate_key("Ed25519").as_dict(private=True))
    for jwk, message in (
        (private, "private key"),
        ('{"kty": "RSA", "n": "x", "e": "AQAB"}', "Ed25519"),
        ("not json", "JWK"),
    ):
        response = client.post("/admin/federation/keys", data={"peer": peer_id, "jwk": jwk})
        text = response.get_data(as_text=True)
        assert response.status_code == 400 and 'id="jwk-error"' in text and message in text
    response = client.post("/admin/federation/keys", data={"peer": 0, "jwk": "{}"})
    assert response.status_code == 400 and 'id="peer-error"' in response.get_data(as_text=True)
    assert count(app, FederationKey) == 0
    response = client.post("/admin/federation/keys/unknown/revoke", follow_redirects=True)
    assert "There is no such key in the trust list." in response.get_data(as_text=True)


def test_other_roles_cannot_open_it(app: Flask) -> None:
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, make_user(Role.FOCAL_POINT, totp_secret=new_totp_secret()))
    assert client.get("/admin/federation/").status_code == 403
    assert client.post("/admin/federation/peers", data={"base_url": RO_URL, "country": "RO"}).status_code == 403
    assert count(app, FederationPeer) == 0


def test_an_installation_is_suspended_and_taken_back(app: Flask) -> None:
    from app.federation import trust

    client, admin_id = admin_client(app)
    client.post("/admin/federation/peers", data={"base_url": RO_URL, "country": "RO"})
    signing = OKPKey.generate_key("Ed25519")
    with app.app_context():
        peer_id = db.session.execute(select(FederationPeer.id)).scalar_one()
    client.post("/admin/federation/keys", data={"peer": peer_id, "jwk": json.dumps(signing.as_dict(private=False))})
    response = client.post(f"/admin/federation/peers/{peer_id}/suspend", follow_redirects=True)
    assert "is suspended" in response.get_data(as_text=True)
    with app.app_context():
        assert trust.trusted_signer(signing.thumbprint()) is None  # nothing accepted from it
    again = client.post(f"/admin/federation/peers/{peer_id}/suspend", follow_redirects=True)
    assert "already suspended" in again.get_data(as_text=True)
    assert client.post(f"/admin/federation/peers/{peer_id}/reactivate").status_code == 302
    with app.app_context():
        assert trust.trusted_signer(signing.thumbprint()) is not None
    assert actions_by(app, admin_id)[-2:] == ["federation.peer_suspended", "federation.peer_reactivated"]
    assert client.post(f"/admin/federation/peers/{peer_id}/elsewhere").status_code == 404
    runner = app.test_cli_runner()
    assert runner.invoke(args=["federation", "suspend-peer", RO_URL]).exit_code == 0
    assert runner.invoke(args=["federation", "suspend-peer", RO_URL]).exit_code != 0
    assert runner.invoke(args=["federation", "reactivate-peer", RO_URL]).exit_code == 0
