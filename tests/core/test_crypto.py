"""Field encryption: AES-GCM with key ids, bound to table/column/row; key rotation; blind index."""

from __future__ import annotations

import base64

import pytest
from flask import Flask

from app.core import crypto


def key(byte: bytes) -> str:
    return base64.urlsafe_b64encode(byte * 32).decode()


def test_round_trip_carries_key_id(ctx: None) -> None:
    aad = crypto.associated_data("user_account", "totp_secret", 7)
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP", aad)
    assert stored.startswith("v1:t2:") and "JBSWY3DP" not in stored
    assert crypto.decrypt(stored, aad) == "JBSWY3DPEHPK3PXP"
    assert crypto.encrypt("same", aad) != crypto.encrypt("same", aad)  # fresh nonce each time


@pytest.mark.parametrize(
    "other_aad",
    [
        ("user_account", "totp_secret", 8),  # another row
        ("user_account", "email", 7),  # another column
        ("person", "totp_secret", 7),  # another table
    ],
)
def test_value_moved_elsewhere_does_not_decrypt(ctx: None, other_aad: tuple[str, str, int]) -> None:
    stored = crypto.encrypt("secret", crypto.associated_data("user_account", "totp_secret", 7))
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, crypto.associated_data(*other_aad))


def test_tampered_value_is_refused(ctx: None) -> None:
    aad = crypto.associated_data("t", "c", 1)
    stored = crypto.encrypt("secret", aad)
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped, aad)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("v1:unknown:AAAA", aad)


def test_rotation_old_values_still_decrypt(app: Flask) -> None:
    aad = crypto.associated_data("t", "c", 1)
    old_ring = crypto.Keyring.parse(f"old:{key(b'o')}")
    stored = crypto.encrypt("secret", aad, old_ring)
    new_ring = crypto.Keyring.parse(f"new:{key(b'n')},old:{key(b'o')}")
    assert crypto.decrypt(stored, aad, new_ring) == "secret"
    assert crypto.key_id_of(crypto.encrypt("secret", aad, new_ring)) == "new"


def test_bad_key_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        crypto.Keyring.parse("short:" + base64.urlsafe_b64encode(b"x" * 16).decode())


def test_blind_index_is_stable_and_normalised(ctx: None) -> None:
    assert crypto.blind_index(" Ana@Example.org", "email") == crypto.blind_index("ana@example.org", "email")
    assert crypto.blind_index("ana@example.org", "email") != crypto.blind_index("ana@example.org", "other")
