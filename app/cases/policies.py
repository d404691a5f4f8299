"""Who sees which cases: frontline staff their agency's, focal points their country's.

The same rule is a SQL condition for lists and an object check for detail pages.
"""

from __future__ import annotations

from sqlalchemy import false
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User
from app.accounts.roles import Role
from app.cases.models import Case


def visible_cases_filter(actor: User) -> ColumnElement[bool]:
    if actor.role == Role.FRONTLINE:
        return Case.owner_agency_id == actor.agency_id
    if actor.role == Role.FOCAL_POINT:
        return Case.member_state_code == actor.agency.member_state_code
    return false()


def can_view_case(actor: User, case: Case) -> bool:
    if actor.role == Role.FRONTLINE:
        return case.owner_agency_id == actor.agency_id
    if actor.role == Role.FOCAL_POINT:
        return case.member_state_code == actor.agency.member_state_code
    return False
