"""Throttling of guessable steps (passwords, codes), counted per account and per address.

Only failed attempts count: a view sets ``g.attempt_failed`` when the guess was wrong.
Limits come from configuration, so each deployment can tune them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request, session
from flask_login import current_user

from app.core.crypto import blind_index


def attempt_failed(_response: Any) -> bool:
    return bool(g.get("attempt_failed"))


def limit(setting: str) -> Callable[[], str]:
    return lambda: str(current_app.config[setting])


def submitted_account_key() -> str:
    """The account named in a sign-in form, as an HMAC so the address is not stored."""
    return "account:" + blind_index(request.form.get("email", ""), "throttle")[:32]


def pending_account_key() -> str:
    pending = session.get("pending_sign_in") or {}
    return f"account:{pending.get('uid', 'none')}"


def signed_in_account_key() -> str:
    return f"account:{current_user.get_id() if current_user.is_authenticated else 'none'}"
