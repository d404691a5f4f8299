"""Who sees which cases: frontline staff their agency's, focal points their country's, and
anyone holding an active emergency (break-glass) grant for that one case.

The same rule is a SQL condition for lists and an object check for detail pages. Lists
("My cases", the identification form's case picker) show one's ordinary scope only. A
break-glass grant lets its holder *read* the one case it names, by its page, while it
lasts and while the holder works in that case's country: it gives no right to change the
case, refer the person or record consent (``case_worker`` needs the ordinary scope).
"""

from __future__ import annotations

from sqlalchemy import Select, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User
from app.accounts.roles import Role
from app.audit.models import BreakGlassAccess
from app.cases.models import Case
from app.core.db import utcnow


def visible_cases_filter(actor: User) -> ColumnElement[bool]:
    if actor.role == Role.FRONTLINE:
        return Case.owner_agency_id == actor.agency_id
    if actor.role == Role.FOCAL_POINT:
        return Case.member_state_code == actor.agency.member_state_code
    return false()


def in_ordinary_scope(actor: User, case: Case) -> bool:
    if actor.role == Role.FRONTLINE:
        return case.owner_agency_id == actor.agency_id
    if actor.role == Role.FOCAL_POINT:
        return case.member_state_code == actor.agency.member_state_code
    return False


def _granted_case_ids(actor: User) -> Select[tuple[str]]:
    return select(BreakGlassAccess.case_id).where(
        BreakGlassAccess.user_id == actor.id,
        BreakGlassAccess.member_state_code == actor.agency.member_state_code,
        BreakGlassAccess.expires_at > utcnow(),
    )


def reachable_cases_filter(actor: User) -> ColumnElement[bool]:
    """For loading one case: the ordinary scope, or an active break-glass grant."""
    if actor.role not in (Role.FRONTLINE, Role.FOCAL_POINT):
        return false()
    return or_(visible_cases_filter(actor), Case.id.in_(_granted_case_ids(actor)))


def active_grant(actor: User, case_id: str) -> BreakGlassAccess | None:
    from app.extensions import db

    return db.session.execute(
        select(BreakGlassAccess)
        .where(
            BreakGlassAccess.user_id == actor.id,
            BreakGlassAccess.case_id == case_id,
            BreakGlassAccess.member_state_code == actor.agency.member_state_code,
            BreakGlassAccess.expires_at > utcnow(),
        )
        .order_by(BreakGlassAccess.expires_at.desc())
        .limit(1)
    ).scalar_one_or_none()
