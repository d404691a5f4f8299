"""The installation's audit signing key and checkpoint tokens.

A checkpoint is a compact JWS (RFC 7515) signed with Ed25519 (``alg`` "Ed25519", RFC 9864)
through joserfc; ``kid`` is the key's RFC 7638 thumbprint. Its payload is RFC 8785 JSON:
``{"typ": "audit-checkpoint", "seq": N, "hash": "<hex>", "issued_at": "...Z",
"purpose": "..."}``. Anyone with the public key (``flask audit public-key``, or the JWK
on the supervisor pages) can check a checkpoint without this software.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

ALGORITHM = "Ed25519"
CHECKPOINT_TYPE = "audit-checkpoint"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def _public_jwk(public: Ed25519PublicKey) -> OKPKey:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": _b64encode(raw)})


def signing_key() -> OKPKey:
    seed = _b64decode(str(current_app.config["AUDIT_SIGNING_KEY"]))
    private = Ed25519PrivateKey.from_private_bytes(seed)
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": _b64encode(raw), "d": _b64encode(seed)})


def public_keys() -> dict[str, OKPKey]:
    """Every key a checkpoint of this installation may be signed with, by ``kid``."""
    current = signing_key()
    keys = {current.thumbprint(): OKPKey.import_key(current.as_dict(private=False))}
    for item in current_app.config.get("AUDIT_RETIRED_PUBLIC_KEYS") or []:
        key = _public_jwk(Ed25519PublicKey.from_public_bytes(_b64decode(item)))
        keys[key.thumbprint()] = key
    return keys


def public_jwk() -> dict[str, Any]:
    key = signing_key()
    return {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": ALGORITHM, "use": "sig"}


def new_signing_key() -> tuple[str, str]:
    """A fresh key as (AUDIT_SIGNING_KEY value, public key value for AUDIT_RETIRED_PUBLIC_KEYS)."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _b64encode(seed), _b64encode(public)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_checkpoint(seq: int, entry_hash: str, issued_at: datetime, purpose: str) -> tuple[str, str]:
    """Return (kid, compact JWS) stating that entry ``seq`` has hash ``entry_hash``."""
    key = signing_key()
    payload = rfc8785.dumps(
        {
            "typ": CHECKPOINT_TYPE,
            "seq": seq,
            "hash": entry_hash,
            "issued_at": _timestamp(issued_at),
            "purpose": purpose,
        }
    )
    kid = key.thumbprint()
    token = jws.serialize_compact({"alg": ALGORITHM, "kid": kid}, payload, key, algorithms=[ALGORITHM])
    return kid, token


@dataclass(frozen=True)
class CheckpointClaim:
    seq: int
    entry_hash: str
    issued_at: str
    purpose: str
    kid: str


class BadCheckpoint(ValueError):
    """The token is not a checkpoint signed by one of this installation's keys."""


def read_checkpoint(token: str) -> CheckpointClaim:
    """Check a checkpoint's signature against this installation's keys and return its claim."""
    keys = public_keys()
    try:
        header = json.loads(_b64decode(token.split(".", 1)[0]))
        key = keys[str(header["kid"])]
        obj = jws.deserialize_compact(token.strip(), key, algorithms=[ALGORITHM])
        claim = json.loads(obj.payload)
        if claim.get("typ") != CHECKPOINT_TYPE:
            raise BadCheckpoint("not an audit checkpoint")
        return CheckpointClaim(
            seq=int(claim["seq"]),
            entry_hash=str(claim["hash"]),
            issued_at=str(claim["issued_at"]),
            purpose=str(claim["purpose"]),
            kid=str(header["kid"]),
        )
    except BadCheckpoint:
        raise
    except (JoseError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise BadCheckpoint("signature or format not valid for this installation's keys") from exc
