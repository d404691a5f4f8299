"""The package envelope: sign, encrypt, and open with every check, as standard JOSE objects.

A package is RFC 8785 JSON (docs/FEDERATION.md, "Package, version 1"), signed as a compact
JWS by the sending installation (``alg`` "Ed25519", RFC 9864; ``kid`` = RFC 7638
thumbprint; ``typ`` "thb-package+jws") and the JWS encrypted as a compact JWE to the
receiving installation's public key (``alg`` "ECDH-ES" with an X25519 key, ``enc``
"A256GCM", ``kid``, ``cty`` "thb-package+jws"). Everything goes through joserfc: no
home-made envelope, no home-made primitive. Any JOSE library can produce and read it.

``open_package`` refuses, with a code that the caller records, anything oversized,
malformed, not for this installation, not decryptable, unsigned, signed by an unknown or
revoked key, badly signed, out of its time window, or already received.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

SCHEMA = "urn:eu-thb-referral:package:1"
SIGNATURE_ALG = "Ed25519"
KEY_ALG = "ECDH-ES"
CONTENT_ENC = "A256GCM"
CONTENT_TYPE = "thb-package+jws"
MAX_PACKAGE_BYTES = 256 * 1024
KINDS = ("referral", "receipt", "request")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class PackageRefused(Exception):
    """A received package that must not be acted on. ``code`` is recorded (never the content);
    ``sender`` is set once the signature proved who sent it (a replay, say)."""

    def __init__(self, code: str, *, sender: Party | None = None) -> None:
        self.code = code
        self.sender = sender
        super().__init__(code)


@dataclass(frozen=True)
class Party:
    installation: str  # the installation's base URL, as in the trust list
    country: str  # ISO 3166-1 alpha-2

    def as_json(self) -> dict[str, str]:
        return {"installation": self.installation, "country": self.country}


@dataclass(frozen=True)
class Peer:
    """A trusted signing key and the installation it belongs to (from the trust list)."""

    key: OKPKey
    party: Party


@dataclass(frozen=True)
class OpenedPackage:
    id: str
    kind: str
    issued_at: datetime
    sender: Party
    recipient: Party
    body: dict[str, Any]
    signing_kid: str


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # UTC, seconds: every time a package or receipt carries


def timestamp(moment: datetime) -> str:
    """A time as packages carry it; a naive one is UTC (as the database stores it)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIME_FORMAT)


def parse_timestamp(value: str) -> datetime:
    """A time as packages carry it, naive UTC as stored; ValueError or TypeError otherwise."""
    return datetime.strptime(value, TIME_FORMAT)  # noqa: DTZ007 - the format's Z is UTC; stored naive


def _b64json(segment: str) -> dict[str, Any]:
    decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    return decoded


def public_part(key: OKPKey) -> OKPKey:
    return OKPKey.import_key(key.as_dict(private=False))


def new_package(
    kind: str, body: Mapping[str, Any], *, sender: Party, recipient: Party, now: datetime
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown package kind {kind}")
    return {
        "schema": SCHEMA,
        "id": str(uuid.uuid4()),
        "kind": kind,
        "issued_at": timestamp(now),
        "sender": sender.as_json(),
        "recipient": recipient.as_json(),
        "body": dict(body),
    }


def seal(package: Mapping[str, Any], *, signing_key: OKPKey, recipient_key: OKPKey) -> str:
    """Sign ``package`` with our Ed25519 key, encrypt the JWS to the recipient's X25519 key."""
    signed = jws.serialize_compact(
        {"alg": SIGNATURE_ALG, "kid": signing_key.thumbprint(), "typ": CONTENT_TYPE},
        rfc8785.dumps(dict(package)),
        signing_key,
        algorithms=[SIGNATURE_ALG],
    )
    return jwe.encrypt_compact(
        {"alg": KEY_ALG, "enc": CONTENT_ENC, "kid": recipient_key.thumbprint(), "cty": CONTENT_TYPE},
        signed.encode("ascii"),
        public_part(recipient_key),
        algorithms=[KEY_ALG, CONTENT_ENC],
    )


def _decrypt(token: str, decryption_keys: Mapping[str, OKPKey]) -> str:
    parts = token.split(".")
    if len(parts) != 5:
        raise PackageRefused("malformed")
    try:
        header = _b64json(parts[0])
    except (ValueError, TypeError):
        raise PackageRefused("malformed") from None
    if header.get("alg") != KEY_ALG or header.get("enc") != CONTENT_ENC or header.get("cty") != CONTENT_TYPE:
        raise PackageRefused("wrong_encryption")
    key = decryption_keys.get(str(header.get("kid")))
    if key is None:
        raise PackageRefused("not_for_us")
    try:
        plaintext = jwe.decrypt_compact(token, key, algorithms=[KEY_ALG, CONTENT_ENC]).plaintext
    except (JoseError, ValueError, TypeError):
        raise PackageRefused("undecryptable") from None
    if plaintext is None:
        raise PackageRefused("undecryptable")
    try:
        return plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise PackageRefused("unsigned") from None


def _verify(signed: str, trusted: Callable[[str], Peer | None]) -> tuple[dict[str, Any], Peer, str]:
    parts = signed.split(".")
    if len(parts) != 3 or not parts[2]:
        raise PackageRefused("unsigned")
    try:
        header = _b64json(parts[0])
    except (ValueError, TypeError):
        raise PackageRefused("unsigned") from None
    if header.get("alg") != SIGNATURE_ALG:
        raise PackageRefused("unsigned")  # "none", or anything but the one algorithm we accept
    kid = str(header.get("kid"))
    peer = trusted(kid)
    if peer is None:
        raise PackageRefused("untrusted_key")
    try:
        payload = jws.deserialize_compact(signed, peer.key, algorithms=[SIGNATURE_ALG]).payload
        package = json.loads(payload)
    except (JoseError, ValueError, TypeError):
        raise PackageRefused("bad_signature") from None
    if not isinstance(package, dict):
        raise PackageRefused("malformed")
    return package, peer, kid


_LOCAL_HTTP = re.compile(r"^http://127\.0\.0\.1(:\d{1,5})?$")


def valid_installation_url(url: str, *, allow_local_http: bool = False) -> bool:
    """An installation's base URL: https://..., or (tests and demonstrations only, when
    allowed) http://127.0.0.1:port."""
    if len(url) > 200 or " " in url or url.endswith("/"):
        return False
    if url.startswith("https://") and len(url) > len("https://"):
        return True
    return allow_local_http and bool(_LOCAL_HTTP.match(url))


def _party(value: Any, allow_local_http: bool) -> Party:
    if (
        not isinstance(value, dict)
        or set(value) != {"installation", "country"}
        or not isinstance(value["installation"], str)
        or not valid_installation_url(value["installation"], allow_local_http=allow_local_http)
        or not isinstance(value["country"], str)
        or not _COUNTRY.match(value["country"])
    ):
        raise PackageRefused("malformed")
    return Party(value["installation"], value["country"])


def _checked(
    package: dict[str, Any], allow_local_http: bool
) -> tuple[str, str, datetime, Party, Party, dict[str, Any]]:
    expected = {"schema", "id", "kind", "issued_at", "sender", "recipient", "body"}
    if set(package) != expected or package["schema"] != SCHEMA:
        raise PackageRefused("malformed")
    try:
        package_id = str(uuid.UUID(str(package["id"])))
    except ValueError:
        raise PackageRefused("malformed") from None
    if package["kind"] not in KINDS or not isinstance(package["body"], dict):
        raise PackageRefused("malformed")
    issued = package["issued_at"]
    if not isinstance(issued, str) or not _TIME.match(issued):
        raise PackageRefused("malformed")
    issued_at = parse_timestamp(issued).replace(tzinfo=UTC)
    return (
        package_id,
        package["kind"],
        issued_at,
        _party(package["sender"], allow_local_http),
        _party(package["recipient"], allow_local_http),
        package["body"],
    )


def open_package(
    token: str | bytes,
    *,
    us: Party,
    decryption_keys: Mapping[str, OKPKey],
    trusted: Callable[[str], Peer | None],
    already_received: Callable[[str], bool],
    now: datetime,
    max_age: timedelta = timedelta(hours=24),
    clock_skew: timedelta = timedelta(minutes=5),
    allow_local_http: bool = False,
) -> OpenedPackage:
    """Decrypt, verify and check a received package, or raise PackageRefused(code).

    ``decryption_keys``: our X25519 private keys by kid (the current one and, during a
    rollover, the previous one). ``trusted``: the trust list, kid -> Peer (None for an
    unknown or revoked key). ``already_received``: has a package with this id been
    accepted before (replay)?
    """
    if len(token) > MAX_PACKAGE_BYTES:
        raise PackageRefused("oversized")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise PackageRefused("malformed") from None
    signed = _decrypt(token.strip(), decryption_keys)
    package, peer, kid = _verify(signed, trusted)
    package_id, kind, issued_at, sender, recipient, body = _checked(package, allow_local_http)
    if sender != peer.party:
        raise PackageRefused("sender_mismatch")  # a trusted key speaking for someone else
    if recipient != us:
        raise PackageRefused("not_for_us")
    # A replay before the time window: a package accepted once stays "already received",
    # however old, so that its sender learns it arrived.
    if already_received(package_id):
        raise PackageRefused("replayed", sender=sender)
    aware_now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    if issued_at < aware_now - max_age:
        raise PackageRefused("expired")
    if issued_at > aware_now + clock_skew:
        raise PackageRefused("from_the_future")
    return OpenedPackage(package_id, kind, issued_at.replace(tzinfo=None), sender, recipient, body, kid)
