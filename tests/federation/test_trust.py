"""The trust list: system administrators add peers and their public keys at the console,
revoke keys; a received package is checked against it (issue 5, federation)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from joserfc.jwk import OKPKey
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core.db import utcnow
from app.extensions import db
from app.federation import trust
from app.federation.envelope import PackageRefused, Party, new_package, open_package, public_part, seal

RO_URL = "https://referral.ro.example"
BG = Party("https://referral.bg.example", "BG")


def jwk_file(tmp_path: Path, key: OKPKey, *, private: bool = False) -> Path:
    path = tmp_path / f"{key.thumbprint()}.jwk"
    path.write_text(json.dumps(key.as_dict(private=private)))
    return path


def cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["federation", *args])
    return result.exit_code, result.output


def test_administrators_keep_the_trust_list_and_packages_are_checked_against_it(
    app: Flask, ctx: None, tmp_path: Path
) -> None:
    signing = OKPKey.generate_key("Ed25519")
    encryption = OKPKey.generate_key("X25519")
    assert cli(app, "add-peer", RO_URL + "/", "ro")[0] == 0
    assert cli(app, "add-key", RO_URL, str(jwk_file(tmp_path, signing)))[0] == 0
    assert cli(app, "add-key", RO_URL, str(jwk_file(tmp_path, encryption)))[0] == 0
    code, listing = cli(app, "list")
    assert code == 0 and RO_URL in listing and f"sig {signing.thumbprint()} valid" in listing

    peer = trust.peer_by_url(RO_URL)
    assert trust.encryption_key(peer).thumbprint() == encryption.thumbprint()  # type: ignore[union-attr]
    ours = OKPKey.generate_key("X25519")
    package = new_package("referral", {"x": 1}, sender=Party(RO_URL, "RO"), recipient=BG, now=datetime.now(UTC))
    token = seal(package, signing_key=signing, recipient_key=public_part(ours))

    def receive() -> str:
        return open_package(
            token,
            us=BG,
            decryption_keys={ours.thumbprint(): ours},
            trusted=trust.trusted_signer,
            already_received=lambda _id: False,
            now=utcnow(),
        ).id

    assert receive() == package["id"]
    assert cli(app, "revoke-key", signing.thumbprint())[0] == 0
    with pytest.raises(PackageRefused) as refused:
        receive()
    assert refused.value.code == "untrusted_key"
    actions = [e.action for e in db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]
    assert actions == [
        "federation.peer_added",
        "federation.key_added",
        "federation.key_added",
        "federation.key_revoked",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add-peer", "http://plain.example", "RO"), "https://..."),
        (("add-peer", RO_URL, "UA"), "EU Member State"),
        (("add-key", "https://unknown.example", "KEYFILE"), "no such installation"),
        (("revoke-key", "nope"), "no such key"),
    ],
)
def test_bad_changes_are_refused_with_a_reason(
    app: Flask, ctx: None, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    key_file = str(jwk_file(tmp_path, OKPKey.generate_key("Ed25519")))
    code, output = cli(app, *(key_file if a == "KEYFILE" else a for a in args))
    assert code != 0 and message in output


def test_private_keys_and_other_keys_are_refused(app: Flask, ctx: None, tmp_path: Path) -> None:
    assert cli(app, "add-peer", RO_URL, "RO")[0] == 0
    code, output = cli(app, "add-key", RO_URL, str(jwk_file(tmp_path, OKPKey.generate_key("Ed25519"), private=True)))
    assert code != 0 and "private key" in output
    rsa_like = tmp_path / "rsa.jwk"
    rsa_like.write_text('{"kty": "RSA", "n": "x", "e": "AQAB"}')
    code, output = cli(app, "add-key", RO_URL, str(rsa_like))
    assert code != 0 and "Ed25519" in output
    same = jwk_file(tmp_path, OKPKey.generate_key("X25519"))
    assert cli(app, "add-key", RO_URL, str(same))[0] == 0
    code, output = cli(app, "add-key", RO_URL, str(same))
    assert code != 0 and "already" in output
    code, output = cli(app, "add-peer", RO_URL, "RO")
    assert code != 0 and "already" in output
