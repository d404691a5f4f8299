"""The receiving endpoint in one process: refused without a federation identity; an
oversized request refused before it is read; every refusal recorded by code only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.federation import identity
from app.federation.envelope import MAX_PACKAGE_BYTES
from tests.conftest import make_app


@pytest.fixture
def federated(app: Flask, database_uri: str) -> Iterator[Flask]:
    """An installation on the test database (``app`` made its schema) with an identity."""
    keys = identity.new_keys()
    yield make_app(
        database_uri,
        FEDERATION_BASE_URL="https://referral.fr.example",
        FEDERATION_COUNTRY="FR",
        FEDERATION_SIGNING_KEY=keys["FEDERATION_SIGNING_KEY"],
        FEDERATION_ENCRYPTION_KEYS=[keys["FEDERATION_ENCRYPTION_KEYS"]],
    )


def refusals(app: Flask) -> list[str]:
    with app.app_context():
        return [
            e.details["refusal"]
            for e in db.session.execute(
                select(AuditEntry).where(AuditEntry.action == "federation.package_refused").order_by(AuditEntry.seq)
            ).scalars()
        ]


def test_without_an_identity_nothing_is_received(app: Flask) -> None:
    response = app.test_client().post("/federation/inbox", data=b"x.y.z", content_type="application/jose")
    assert response.status_code == 404 and response.get_json() == {"refused": "not_federated"}


def test_oversized_and_malformed_requests_are_refused_and_recorded(federated: Flask) -> None:
    client = federated.test_client()
    response = client.post("/federation/inbox", data=b"a" * (MAX_PACKAGE_BYTES + 10))
    assert response.status_code == 413 and response.get_json() == {"refused": "oversized"}
    response = client.post("/federation/inbox", data="a.b.c.d.e")
    assert response.status_code == 400 and response.get_json() == {"refused": "malformed"}
    response = client.post("/federation/inbox", data="\u00e9".encode())
    assert response.status_code == 400
    assert refusals(federated) == ["oversized", "malformed", "malformed"]


def test_the_trust_list_page_shows_this_installations_keys(federated: Flask) -> None:
    from app.accounts.roles import Role
    from tests.factories import make_user, new_totp_secret, sign_in_directly

    client = federated.test_client()
    with federated.app_context():
        sign_in_directly(client, make_user(Role.SYSTEM_ADMIN, totp_secret=new_totp_secret()))
        kids = [jwk["kid"] for jwk in identity.public_jwks()]
    page = client.get("/admin/federation/").get_data(as_text=True)
    assert "https://referral.fr.example" in page and all(kid in page for kid in kids)


def test_the_tick_and_the_commands(app: Flask, federated: Flask) -> None:
    from app.periodic import federation_tick

    with app.app_context():
        assert federation_tick() == "federation not configured"
    with federated.app_context():
        assert federation_tick() == "0 delivered, 0 to retry, 0 refused by the peer"
        kids = [jwk["kid"] for jwk in identity.public_jwks()]
    printed = federated.test_cli_runner().invoke(args=["federation", "identity"]).output
    assert printed.startswith("https://referral.fr.example FR") and all(kid in printed for kid in kids)
    assert '"d"' not in printed  # public keys only
    keys = app.test_cli_runner().invoke(args=["federation", "keygen"]).output
    assert "FEDERATION_SIGNING_KEY=" in keys and "FEDERATION_ENCRYPTION_KEYS=" in keys
    assert app.test_cli_runner().invoke(args=["federation", "identity"]).exit_code != 0
