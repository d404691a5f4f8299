"""TOTP (RFC 6238) secrets, codes usable once, recovery codes, enrolment QR as SVG."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from markupsafe import Markup

from app.accounts.models import User
from app.core.crypto import associated_data, decrypt, encrypt

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # 31 symbols, no look-alikes (i, l, o, 0, 1)


def new_secret() -> str:
    return pyotp.random_base32()


def store_secret(user: User, secret: str) -> None:
    """Store the confirmed secret (demo data and tests; users go through enrolment)."""
    user.totp_secret = encrypt(secret, associated_data("user_account", "totp_secret", user.id))


def store_pending_secret(user: User, secret: str) -> None:
    user.totp_pending_secret = encrypt(secret, associated_data("user_account", "totp_pending_secret", user.id))


def read_secret(user: User) -> str | None:
    if user.totp_secret is None:
        return None
    return decrypt(user.totp_secret, associated_data("user_account", "totp_secret", user.id))


def read_pending_secret(user: User) -> str | None:
    if user.totp_pending_secret is None:
        return None
    return decrypt(user.totp_pending_secret, associated_data("user_account", "totp_pending_secret", user.id))


def promote_pending_secret(user: User) -> None:
    """The pending secret was confirmed with a code: it becomes the secret in use."""
    secret = read_pending_secret(user)
    assert secret is not None
    store_secret(user, secret)
    user.totp_pending_secret = None


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> Markup:
    """The enrolment QR code, rendered here as inline SVG (nothing leaves the server)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # noqa: S704 - segno escapes the payload; no user HTML reaches this markup


def matching_step(secret: str, code: str, *, now: float | None = None, window: int = 1) -> int | None:
    """Return the time step a 6-digit code belongs to (within +-window), or None."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = int(moment // totp.interval)
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_code(user: User, code: str, *, now: float | None = None, pending: bool = False) -> bool:
    """Check a TOTP code and burn its time step, so the same code cannot be replayed."""
    secret = read_pending_secret(user) if pending else read_secret(user)
    if secret is None:
        return False
    step = matching_step(secret, code, now=now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def new_recovery_codes() -> list[str]:
    """Ten codes of 16 characters from a 31-symbol alphabet: over 79 random bits each."""
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def _normalise_recovery_code(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def hash_recovery_code(code: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + _normalise_recovery_code(code).encode()).digest()


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def recovery_code_matches(code: str, salt: bytes, code_hash: bytes) -> bool:
    return hmac.compare_digest(hash_recovery_code(code, salt), code_hash)


def looks_like_recovery_code(code: str) -> bool:
    return len(_normalise_recovery_code(code)) == 16
