"""The package envelope: a signed-then-encrypted JOSE package opens only when everything
holds, and every kind of bad package is refused with its code (issue 5, federation)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from joserfc import jwe, jws
from joserfc.jwk import OKPKey

from app.federation.envelope import (
    MAX_PACKAGE_BYTES,
    OpenedPackage,
    PackageRefused,
    Party,
    Peer,
    new_package,
    open_package,
    public_part,
    seal,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RO = Party("https://referral.ro.example", "RO")
BG = Party("https://referral.bg.example", "BG")
DE = Party("https://referral.de.example", "DE")

RO_SIGNING = OKPKey.generate_key("Ed25519")
DE_SIGNING = OKPKey.generate_key("Ed25519")
BG_ENCRYPTION = OKPKey.generate_key("X25519")
BG_OLD_ENCRYPTION = OKPKey.generate_key("X25519")
BODY = {"referral": {"urgency": "emergency", "needs": ["emergency_accommodation"]}}


def trust_list(*peers: Peer) -> Any:
    table = {peer.key.thumbprint(): peer for peer in peers}
    return table.get


def open_at_bg(
    token: str | bytes, *, seen: set[str] | None = None, now: datetime = NOW, **kwargs: Any
) -> OpenedPackage:
    options: dict[str, Any] = {
        "us": BG,
        "decryption_keys": {
            BG_ENCRYPTION.thumbprint(): BG_ENCRYPTION,
            BG_OLD_ENCRYPTION.thumbprint(): BG_OLD_ENCRYPTION,
        },
        "trusted": trust_list(Peer(public_part(RO_SIGNING), RO), Peer(public_part(DE_SIGNING), DE)),
        "already_received": (seen or set()).__contains__,
        "now": now,
    }
    options.update(kwargs)
    return open_package(token, **options)


def sealed(package: dict[str, Any] | None = None, *, signing: OKPKey = RO_SIGNING, to: OKPKey = BG_ENCRYPTION) -> str:
    package = package or new_package("referral", BODY, sender=RO, recipient=BG, now=NOW)
    return seal(package, signing_key=signing, recipient_key=public_part(to))


def refused(token: str | bytes, **kwargs: Any) -> str:
    with pytest.raises(PackageRefused) as excinfo:
        open_at_bg(token, **kwargs)
    return excinfo.value.code


def test_a_package_goes_from_one_installation_to_another() -> None:
    token = sealed()
    opened = open_at_bg(token)
    assert (opened.kind, opened.sender, opened.recipient, opened.body) == ("referral", RO, BG, BODY)
    assert opened.signing_kid == RO_SIGNING.thumbprint()


def test_it_is_standard_jose_that_another_implementation_reads() -> None:
    """Read with joserfc's own calls only, as another implementation would: JWE
    ECDH-ES/A256GCM around a JWS Ed25519 over RFC 8785 JSON."""
    token = sealed()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {
        "alg": "ECDH-ES",
        "enc": "A256GCM",
        "kid": BG_ENCRYPTION.thumbprint(),
        "cty": "thb-package+jws",
        "epk": header["epk"],
    }
    inner = jwe.decrypt_compact(token, BG_ENCRYPTION, algorithms=["ECDH-ES", "A256GCM"]).plaintext
    assert inner is not None
    verified = jws.deserialize_compact(inner.decode(), public_part(RO_SIGNING), algorithms=["Ed25519"])
    package = json.loads(verified.payload)
    assert verified.payload == rfc8785.dumps(package)  # canonical JSON
    assert package["schema"] == "urn:eu-thb-referral:package:1" and package["kind"] == "referral"


def test_encryption_key_rollover_opens_packages_to_the_previous_key() -> None:
    assert open_at_bg(sealed(to=BG_OLD_ENCRYPTION)).body == BODY


def test_a_tampered_package_is_refused() -> None:
    token = sealed()
    header, key, iv, ciphertext, tag = token.split(".")
    flipped = ciphertext[:-2] + ("A" if ciphertext[-2] != "A" else "B") + ciphertext[-1]
    assert refused(".".join((header, key, iv, flipped, tag))) == "undecryptable"


def test_a_changed_payload_re_encrypted_by_someone_else_fails_the_signature() -> None:
    """Someone who can encrypt to us (our key is public) changes the signed content."""
    inner = jwe.decrypt_compact(sealed(), BG_ENCRYPTION, algorithms=["ECDH-ES", "A256GCM"]).plaintext
    assert inner is not None
    header, payload, signature = inner.decode().split(".")
    package = json.loads(base64.urlsafe_b64decode(payload + "=="))
    package["body"] = {"referral": {"urgency": "routine"}}
    forged_payload = base64.urlsafe_b64encode(rfc8785.dumps(package)).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    token = jwe.encrypt_compact(
        {"alg": "ECDH-ES", "enc": "A256GCM", "kid": BG_ENCRYPTION.thumbprint(), "cty": "thb-package+jws"},
        forged.encode(),
        public_part(BG_ENCRYPTION),
        algorithms=["ECDH-ES", "A256GCM"],
    )
    assert refused(token) == "bad_signature"


def _encrypt_to_bg(inner: str) -> str:
    return jwe.encrypt_compact(
        {"alg": "ECDH-ES", "enc": "A256GCM", "kid": BG_ENCRYPTION.thumbprint(), "cty": "thb-package+jws"},
        inner.encode(),
        public_part(BG_ENCRYPTION),
        algorithms=["ECDH-ES", "A256GCM"],
    )


def test_an_unsigned_package_is_refused() -> None:
    package = new_package("referral", BODY, sender=RO, recipient=BG, now=NOW)
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(rfc8785.dumps(package)).rstrip(b"=").decode()
    assert refused(_encrypt_to_bg(f"{none_header}.{payload}.")) == "unsigned"
    assert refused(_encrypt_to_bg(json.dumps(package))) == "unsigned"


def test_a_package_signed_by_an_untrusted_key_is_refused() -> None:
    stranger = OKPKey.generate_key("Ed25519")
    assert refused(sealed(signing=stranger)) == "untrusted_key"


def test_a_revoked_key_is_refused() -> None:
    token = sealed()
    assert refused(token, trusted=trust_list(Peer(public_part(DE_SIGNING), DE))) == "untrusted_key"


def test_a_trusted_key_cannot_speak_for_another_installation() -> None:
    package = new_package("referral", BODY, sender=RO, recipient=BG, now=NOW)
    assert refused(sealed(package, signing=DE_SIGNING)) == "sender_mismatch"


def test_a_package_for_someone_else_is_refused() -> None:
    package = new_package("referral", BODY, sender=RO, recipient=DE, now=NOW)
    assert refused(sealed(package)) == "not_for_us"
    assert refused(sealed(to=OKPKey.generate_key("X25519"))) == "not_for_us"


def test_a_replayed_package_is_refused() -> None:
    token = sealed()
    first = open_at_bg(token)
    assert refused(token, seen={first.id}) == "replayed"


@pytest.mark.parametrize(
    ("issued", "code"),
    [(NOW - timedelta(hours=25), "expired"), (NOW + timedelta(minutes=10), "from_the_future")],
)
def test_a_package_outside_its_time_window_is_refused(issued: datetime, code: str) -> None:
    package = new_package("referral", BODY, sender=RO, recipient=BG, now=issued)
    assert refused(sealed(package)) == code


def test_oversized_and_malformed_packages_are_refused() -> None:
    assert refused("x" * (MAX_PACKAGE_BYTES + 1)) == "oversized"
    assert refused("not.a.package") == "malformed"
    assert refused(b"\xff\xfe") == "malformed"
    assert refused("e30.a.b.c.d") == "wrong_encryption"  # {} as the header
    for broken in (
        {"schema": "urn:something-else", "id": "x"},
        {**new_package("referral", BODY, sender=RO, recipient=BG, now=NOW), "id": "not-a-uuid"},
        {**new_package("referral", BODY, sender=RO, recipient=BG, now=NOW), "kind": "gift"},
        {**new_package("referral", BODY, sender=RO, recipient=BG, now=NOW), "issued_at": "yesterday"},
        {**new_package("referral", BODY, sender=RO, recipient=BG, now=NOW), "extra": 1},
        {
            **new_package("referral", BODY, sender=RO, recipient=BG, now=NOW),
            "sender": {"installation": "http://plain.example", "country": "RO"},
        },
    ):
        assert refused(sealed(broken)) in ("malformed", "sender_mismatch")
