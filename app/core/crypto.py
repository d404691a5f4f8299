"""Field encryption (AES-256-GCM with a key id) and HMAC blind indexes.

A stored value is ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``. The associated
data binds it to its table, column and row, so a value copied to another row or column
does not decrypt. Keys come from configuration (``FIELD_ENCRYPTION_KEYS``: the first key
is used to encrypt, all listed keys can decrypt, which allows rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

FORMAT_VERSION = "v1"


class DecryptionError(Exception):
    """The value was not made with a known key for this place, or was altered."""


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass(frozen=True)
class Keyring:
    active_key_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in spec.split(","):
            key_id, _, encoded = item.strip().partition(":")
            key = _b64decode(encoded)
            if not key_id or len(key) != 32 or key_id in keys:
                raise ValueError("FIELD_ENCRYPTION_KEYS must be distinct 'id:base64(32 bytes)' items")
            keys[key_id] = key
            order.append(key_id)
        return cls(active_key_id=order[0], keys=keys)


def keyring() -> Keyring:
    return Keyring.parse(current_app.config["FIELD_ENCRYPTION_KEYS"])


def associated_data(table: str, column: str, row_id: object) -> bytes:
    return f"{table}/{column}/{row_id}".encode()


def encrypt(plaintext: str, aad: bytes, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    nonce = os.urandom(12)
    sealed = AESGCM(ring.keys[ring.active_key_id]).encrypt(nonce, plaintext.encode(), aad)
    payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{FORMAT_VERSION}:{ring.active_key_id}:{payload}"


def decrypt(stored: str, aad: bytes, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    try:
        version, key_id, payload = stored.split(":", 2)
        key = ring.keys[key_id]
    except (ValueError, KeyError) as exc:
        raise DecryptionError("unknown format or key id") from exc
    if version != FORMAT_VERSION:
        raise DecryptionError("unknown format")
    raw = _b64decode(payload)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], aad).decode()
    except InvalidTag as exc:
        raise DecryptionError("authentication failed") from exc


def key_id_of(stored: str) -> str:
    return stored.split(":", 2)[1]


def blind_index(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value, for exact-match lookups without the value."""
    key = _b64decode(current_app.config["BLIND_INDEX_KEY"])
    message = purpose.encode() + b"\x00" + value.strip().lower().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
