"""Who may see and manage which accounts, agencies and Member States.

The query filters and the object checks express the same rule, so a list never shows
what a detail page would refuse.
"""

from __future__ import annotations

from sqlalchemy import Select, false, true
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import Agency, MemberState, User
from app.accounts.roles import ASSIGNABLE_ROLES, Role


def manageable_users_filter(actor: User) -> ColumnElement[bool]:
    """SQL condition on User rows that ``actor`` may manage."""
    if actor.role == Role.SYSTEM_ADMIN:
        return User.role.in_(sorted(ASSIGNABLE_ROLES[Role.SYSTEM_ADMIN]))
    if actor.role == Role.AGENCY_ADMIN:
        return (User.agency_id == actor.agency_id) & User.role.in_(sorted(ASSIGNABLE_ROLES[Role.AGENCY_ADMIN]))
    return false()


def manageable_users(actor: User, query: Select[tuple[User]]) -> Select[tuple[User]]:
    return query.where(manageable_users_filter(actor))


def can_manage_user(actor: User, target: User) -> bool:
    if actor.role == Role.SYSTEM_ADMIN:
        return target.role in ASSIGNABLE_ROLES[Role.SYSTEM_ADMIN]
    if actor.role == Role.AGENCY_ADMIN:
        return target.agency_id == actor.agency_id and target.role in ASSIGNABLE_ROLES[Role.AGENCY_ADMIN]
    return False


def assignable_roles(actor: User) -> list[Role]:
    return [role for role in Role if role in ASSIGNABLE_ROLES.get(actor.role, frozenset())]


def agencies_for_new_users_filter(actor: User) -> ColumnElement[bool]:
    """Agencies in which ``actor`` may create accounts."""
    if actor.role == Role.SYSTEM_ADMIN:
        return Agency.active.is_(True)
    if actor.role == Role.AGENCY_ADMIN:
        return Agency.id == actor.agency_id
    return false()


def can_manage_agency(actor: User, agency: Agency) -> bool:
    return actor.role == Role.SYSTEM_ADMIN


def visible_agencies_filter(actor: User) -> ColumnElement[bool]:
    if actor.role in (Role.SYSTEM_ADMIN, Role.FOCAL_POINT):
        return true()
    return Agency.id == actor.agency_id


def manageable_member_states_filter(actor: User) -> ColumnElement[bool]:
    """System administrators manage every country's settings; a national focal point its own
    country's (deadlines, reflection period, holidays, retention: issue 5's focal-point desk)."""
    if actor.role == Role.SYSTEM_ADMIN:
        return true()
    if actor.role == Role.FOCAL_POINT:
        return MemberState.code == actor.agency.member_state_code
    return false()


def can_manage_member_state(actor: User, state: MemberState) -> bool:
    if actor.role == Role.SYSTEM_ADMIN:
        return True
    return actor.role == Role.FOCAL_POINT and state.code == actor.agency.member_state_code
