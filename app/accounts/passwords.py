"""Password hashing (argon2id) and the password policy (ASVS V2.1)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from app.core.errors import ValidationFailed


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check; an account without a password still costs one hash."""
    hasher = _hasher()
    if password_hash is None:
        hasher.hash(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords from the zxcvbn package's bundled list."""
    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str | None = None) -> LazyString | None:
    """Return a translatable reason the password is refused, or None if it is fine."""
    config = current_app.config
    if len(password) < config["PASSWORD_MIN_LENGTH"]:
        return _l("Use at least %(count)s characters.", count=config["PASSWORD_MIN_LENGTH"])
    if len(password) > config["PASSWORD_MAX_LENGTH"]:
        return _l("Use at most %(count)s characters.", count=config["PASSWORD_MAX_LENGTH"])
    lowered = password.lower()
    if lowered in common_passwords() or (email and lowered == email.lower()):
        return _l(
            "This password is too common or easy to guess. Choose another one, for example a few unrelated words."
        )
    if len(set(password)) < 4:
        return _l("This password is too easy to guess. Choose another one, for example a few unrelated words.")
    return None


def check_password_policy(password: str, *, email: str | None = None) -> None:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValidationFailed(problem)
