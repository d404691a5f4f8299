"""Creating notifications: one row per user in the caller's transaction, and an e-mail job
queued to run after the transaction commits (app.core.jobs). Reading them and marking them
read: a user only ever sees and changes their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.jobs import enqueue
from app.extensions import db
from app.notifications.models import Notification
from app.notifications.vocabulary import NOTIFICATION_TITLES

if TYPE_CHECKING:
    from app.accounts.models import User
    from app.referrals.models import Referral


def referral_link(referral_id: str) -> str:
    return f"/referrals/{referral_id}"


def notify(users: list[User], kind: str, *, referral: Referral | None = None, link: str | None = None) -> None:
    """Notify each user once; ``link`` (a path in this app) defaults to the referral's page."""
    if kind not in NOTIFICATION_TITLES:
        raise ValueError(f"unknown notification kind {kind}")
    if link is None:
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


# -- the notification centre -------------------------------------------------------------

# The centre shows the newest ones; older ones stay until the retention rules remove them.
CENTRE_SIZE = 100


def latest_for(actor: User, *, limit: int = CENTRE_SIZE) -> list[Notification]:
    """The actor's newest notifications, newest first (one statement)."""
    return list(
        db.session.execute(
            select(Notification)
            .where(Notification.user_id == actor.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        ).scalars()
    )


def unread_count(actor: User) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    ).scalar_one()


def mark_read(actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read; another user's is not found."""
    notification = db.session.execute(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == actor.id)
    ).scalar_one_or_none()
    if notification is None:
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(actor: User) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
