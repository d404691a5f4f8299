"""This installation's identity in the federation: its address, country and keys, from the
configuration (docs/DEPLOYMENT.md). The private keys never leave it; the public ones are
handed to the peers' administrators (``flask federation identity``, the trust list page)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import current_app
from joserfc.jwk import OKPKey

from app.federation.envelope import Party


class FederationOff(RuntimeError):
    """This installation has no federation identity configured."""


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def enabled() -> bool:
    return bool(current_app.config.get("FEDERATION_BASE_URL"))


def us() -> Party:
    if not enabled():
        raise FederationOff()
    return Party(
        str(current_app.config["FEDERATION_BASE_URL"]).rstrip("/"), str(current_app.config["FEDERATION_COUNTRY"])
    )


def signing_key() -> OKPKey:
    seed = _b64decode(str(current_app.config["FEDERATION_SIGNING_KEY"]))
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": _b64encode(public), "d": _b64encode(seed)})


def _x25519(raw: bytes) -> OKPKey:
    public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return OKPKey.import_key({"kty": "OKP", "crv": "X25519", "x": _b64encode(public), "d": _b64encode(raw)})


def decryption_keys() -> dict[str, OKPKey]:
    """Our X25519 private keys by kid: the current one and any kept during a rollover."""
    keys = [_x25519(_b64decode(item)) for item in current_app.config.get("FEDERATION_ENCRYPTION_KEYS") or []]
    return {key.thumbprint(): key for key in keys}


def public_jwks() -> list[dict[str, Any]]:
    """Our public keys, to give to peers: the signing key and the current encryption key."""
    signing = signing_key()
    encryption = next(iter(decryption_keys().values()))
    return [
        {**signing.as_dict(private=False), "kid": signing.thumbprint(), "use": "sig", "alg": "Ed25519"},
        {**encryption.as_dict(private=False), "kid": encryption.thumbprint(), "use": "enc", "alg": "ECDH-ES"},
    ]


def new_keys() -> dict[str, str]:
    """Fresh private keys, as configuration values."""
    signing = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    encryption = X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return {"FEDERATION_SIGNING_KEY": _b64encode(signing), "FEDERATION_ENCRYPTION_KEYS": _b64encode(encryption)}
