"""Creating notifications: one row per user in the caller's transaction, and an e-mail job
queued to run after the transaction commits (app.core.jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.jobs import enqueue
from app.extensions import db
from app.notifications.models import Notification
from app.notifications.vocabulary import NOTIFICATION_TITLES

if TYPE_CHECKING:
    from app.accounts.models import User
    from app.referrals.models import Referral


def referral_link(referral_id: str) -> str:
    return f"/referrals/{referral_id}"


def notify(users: list[User], kind: str, *, referral: Referral | None = None) -> None:
    if kind not in NOTIFICATION_TITLES:
        raise ValueError(f"unknown notification kind {kind}")
    link = referral_link(referral.id) if referral is not None else "/notifications"
    for user in {u.id: u for u in users}.values():
        db.session.add(
            Notification(user_id=user.id, kind=kind, referral_id=referral.id if referral else None, link=link)
        )
        enqueue(
            "app.notifications.mail.send_notification",
            to=user.email,
            kind=kind,
            link=link,
            language=user.preferred_language,
        )
