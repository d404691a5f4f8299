"""Server-side sessions: the cookie holds a random token, the database holds its digest.

A session ends on sign-out, idle timeout, absolute lifetime, password change (every
other session), deactivation, or when its owner ends it from the sessions page.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from app.accounts.models import User, UserSession
from app.core.db import utcnow
from app.extensions import db

TOUCH_INTERVAL = timedelta(seconds=30)


class EndReason(enum.StrEnum):
    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    EXPIRED = "expired"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    DEACTIVATED = "deactivated"
    ENDED_BY_USER = "ended_by_user"
    TWO_FACTOR_RESET = "two_factor_reset"
    ROLE_CHANGED = "role_changed"

    @property
    def title(self) -> LazyString:
        return END_REASON_TITLES[self]


END_REASON_TITLES = {
    EndReason.SIGNED_OUT: _l("Signed out"),
    EndReason.IDLE: _l("Ended after inactivity"),
    EndReason.EXPIRED: _l("Reached its maximum length"),
    EndReason.PASSWORD_CHANGED: _l("Ended by a password change"),
    EndReason.DEACTIVATED: _l("Account deactivated"),
    EndReason.ENDED_BY_USER: _l("Ended from the sessions page"),
    EndReason.TWO_FACTOR_RESET: _l("Ended by a two-factor reset"),
    EndReason.ROLE_CHANGED: _l("Ended by a change of role or agency"),
}


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start(user: User, *, client_address: str | None, user_agent: str | None) -> tuple[UserSession, str]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = UserSession(
        token_hash=digest(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        client_address=client_address,
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(record)
    db.session.flush()
    return record, token


def end(record: UserSession, reason: EndReason) -> None:
    if record.ended_at is None:
        record.ended_at = utcnow()
        record.end_reason = reason.value


def end_all(user: User, reason: EndReason, *, keep: UserSession | None = None) -> int:
    statement = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason.value)
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def end_all_in_agency(agency_id: int, reason: EndReason) -> None:
    """End every live session of an agency's staff in one statement."""
    members = select(User.id).where(User.agency_id == agency_id).scalar_subquery()
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id.in_(members), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason.value)
        .execution_options(synchronize_session=False)
    )


def resolve(token: str, *, idle: timedelta, lifetime: timedelta) -> UserSession | None:
    """Return the live session for a cookie token, ending it if it has timed out."""
    # The agency comes with the user: nearly every request reads it (scopes, the audit trail).
    row = db.session.execute(
        select(UserSession, User)
        .join(UserSession.user)
        .join(User.agency)
        .options(contains_eager(UserSession.user).contains_eager(User.agency))
        .where(UserSession.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    record, user = row
    agency_active = user.agency.active
    if record.ended_at is not None:
        return None
    now = utcnow()
    reason: EndReason | None = None
    if not (user.active and agency_active):
        reason = EndReason.DEACTIVATED
    elif now - record.created_at > lifetime:
        reason = EndReason.EXPIRED
    elif now - record.last_seen_at > idle:
        reason = EndReason.IDLE
    if reason is not None:
        end(record, reason)
        return None
    if now - record.last_seen_at > TOUCH_INTERVAL:
        record.last_seen_at = now
    session_record: UserSession = record
    return session_record


def active_for(user: User) -> list[UserSession]:
    return list(
        db.session.execute(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        ).scalars()
    )
