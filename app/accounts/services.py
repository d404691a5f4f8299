"""Business rules for accounts: sign-in, two-factor, passwords, users, agencies, states.

Every function takes the acting user explicitly, flushes and never commits: the view
commits once. Each change writes its audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from zoneinfo import available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from app.accounts import passwords, sessions, two_factor
from app.accounts.models import ActivationToken, Agency, MemberState, RecoveryCode, User, UserSession
from app.accounts.policies import (
    assignable_roles,
    can_manage_member_state,
    can_manage_user,
)
from app.accounts.roles import AgencyKind, Role
from app.audit.services import field_changes, record
from app.cases.deadlines import MINIMUM_REFLECTION_DAYS, holiday_subdivisions
from app.core.crypto import blind_index
from app.core.db import utcnow
from app.core.errors import NotFound, PermissionDenied, ValidationFailed
from app.extensions import db


class FieldError(ValidationFailed):
    """A validation error that belongs to one form field."""

    def __init__(self, field: str, message: object) -> None:
        self.field = field
        super().__init__(message)


def active_staff(agency_id: int, *roles: Role) -> list[User]:
    """The active users of an agency who hold one of ``roles`` (who gets told of something)."""
    return list(
        db.session.execute(
            select(User).where(User.agency_id == agency_id, User.role.in_(roles), User.active.is_(True))
        ).scalars()
    )


# --- sign-in -------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def two_factor_required(user: User) -> bool:
    config = current_app.config
    return user.role.value in config["TWO_FACTOR_MANDATORY_ROLES"] or bool(config["TWO_FACTOR_REQUIRED_FOR_ALL"])


def check_password(email: str, password: str) -> User | None:
    """First sign-in step. Returns the user when the password is right; records failures."""
    user = find_user_by_email(email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None:
        record(
            "auth.sign_in.failure",
            actor=None,
            details={"reason": "unknown_account", "account_ref": blind_index(email, "audit-email")[:16]},
        )
        return None
    if not ok:
        # Whoever typed the password is unknown: the account is the object, not the actor.
        record(
            "auth.sign_in.failure",
            actor=None,
            object_type="user",
            object_id=user.id,
            member_state_code=user.agency.member_state_code,  # the account's country's supervisors see it
            details={"reason": "bad_password"},
        )
        return None
    if not user.active or not user.agency.active:
        record(
            "auth.sign_in.failure", actor=user, object_type="user", object_id=user.id, details={"reason": "inactive"}
        )
        return None
    assert user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def check_second_factor(user: User, code: str) -> bool:
    """Second step: a TOTP code (usable once) or an unused recovery code."""
    if two_factor.looks_like_recovery_code(code):
        unused = db.session.execute(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).scalars()
        row = next((r for r in unused if two_factor.recovery_code_matches(code, r.salt, r.code_hash)), None)
        if row is not None:
            row.used_at = utcnow()
            record("auth.two_factor.recovery_code_used", actor=user, object_type="user", object_id=user.id)
            return True
    elif two_factor.accept_code(user, code):
        return True
    record("auth.two_factor.failure", actor=user, object_type="user", object_id=user.id)
    return False


def start_session(user: User, *, client_address: str | None, user_agent: str | None) -> str:
    """Complete sign-in: a new server-side session and its cookie token."""
    user_session, token = sessions.start(user, client_address=client_address, user_agent=user_agent)
    user.last_sign_in_at = utcnow()
    record("auth.sign_in.success", actor=user, object_type="session", object_id=user_session.id)
    return token


def sign_out(actor: User) -> None:
    if actor.current_session is not None:
        sessions.end(actor.current_session, sessions.EndReason.SIGNED_OUT)
        record("auth.sign_out", actor=actor, object_type="session", object_id=actor.current_session.id)


def live_sessions(actor: User) -> list[UserSession]:
    config = current_app.config
    now = utcnow()
    return [
        s
        for s in sessions.active_for(actor)
        if now - s.created_at <= config["SESSION_ABSOLUTE_LIFETIME"]
        and now - s.last_seen_at <= config["SESSION_IDLE_TIMEOUT"]
    ]


def end_own_session(actor: User, session_id: int) -> None:
    target = db.session.get(UserSession, session_id)
    if target is None or target.user_id != actor.id or target.ended_at is not None:
        raise NotFound()
    sessions.end(target, sessions.EndReason.ENDED_BY_USER)
    record("auth.session.ended", actor=actor, object_type="session", object_id=target.id)


def confirm_password(actor: User, password: str) -> None:
    """Re-authentication before a sensitive change to one's own account (ASVS V3.7.1)."""
    if not passwords.verify_password(actor.password_hash, password):
        record("auth.reauthentication.failure", actor=actor, object_type="user", object_id=actor.id)
        raise FieldError("current_password", _l("Your current password is not right."))


# --- two-factor enrolment ----------------------------------------------------------------


def begin_two_factor_enrolment(actor: User) -> str:
    """Store a new pending secret and return it for the QR code.

    The secret in use (if any) keeps working until the new one is confirmed, so an
    abandoned enrolment never leaves the account without its second factor.
    """
    secret = two_factor.new_secret()
    two_factor.store_pending_secret(actor, secret)
    db.session.flush()
    return secret


def pending_two_factor_secret(actor: User) -> str:
    """The pending secret to show, starting an enrolment if there is none."""
    return two_factor.read_pending_secret(actor) or begin_two_factor_enrolment(actor)


def confirm_two_factor_enrolment(actor: User, code: str) -> list[str]:
    """Confirm the pending secret with a first code; returns fresh recovery codes (shown once)."""
    if actor.totp_pending_secret is None or not two_factor.accept_code(actor, code, pending=True):
        record("auth.two_factor.enrolment_failed", actor=actor, object_type="user", object_id=actor.id)
        raise FieldError("code", _l("That code is not right. Check the time on your phone and enter the current code."))
    two_factor.promote_pending_secret(actor)
    actor.totp_enabled_at = utcnow()
    codes = _replace_recovery_codes(actor)
    record("auth.two_factor.enrolled", actor=actor, object_type="user", object_id=actor.id)
    return codes


def regenerate_recovery_codes(actor: User) -> list[str]:
    codes = _replace_recovery_codes(actor)
    record("auth.two_factor.recovery_codes_renewed", actor=actor, object_type="user", object_id=actor.id)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = two_factor.new_recovery_codes()
    for code in codes:
        salt = two_factor.new_salt()
        db.session.add(RecoveryCode(user_id=user.id, salt=salt, code_hash=two_factor.hash_recovery_code(code, salt)))
    db.session.flush()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return int(
        db.session.execute(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).scalar_one()
    )


def disable_two_factor(actor: User) -> None:
    if two_factor_required(actor):
        raise PermissionDenied(_l("Two-factor sign-in is mandatory for your role."))
    _clear_two_factor(actor)
    record("auth.two_factor.disabled", actor=actor, object_type="user", object_id=actor.id)


def _clear_two_factor(user: User) -> None:
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def reset_two_factor(actor: User, target: User) -> None:
    """An administrator resets a user's two-factor; the user enrols again at next sign-in."""
    _require_manageable(actor, target)
    _clear_two_factor(target)
    sessions.end_all(target, sessions.EndReason.TWO_FACTOR_RESET)
    record(
        "user.two_factor_reset",
        actor=actor,
        object_type="user",
        object_id=target.id,
        member_state_code=target.agency.member_state_code,
    )


# --- passwords ---------------------------------------------------------------------------


def change_password(actor: User, *, current: str, new: str) -> None:
    confirm_password(actor, current)
    _set_password(actor, new)
    ended = sessions.end_all(actor, sessions.EndReason.PASSWORD_CHANGED, keep=actor.current_session)
    record(
        "auth.password_changed",
        actor=actor,
        object_type="user",
        object_id=actor.id,
        details={"other_sessions_ended": ended},
    )


def _set_password(user: User, new: str) -> None:
    problem = passwords.password_problem(new, email=user.email)
    if problem is not None:
        raise FieldError("new_password", problem)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue_activation_link(actor: User | None, target: User) -> str:
    """A one-time token to set a password; any earlier unused token stops working."""
    if actor is not None:
        _require_manageable(actor, target)
    now = utcnow()
    for old in db.session.execute(
        select(ActivationToken).where(ActivationToken.user_id == target.id, ActivationToken.used_at.is_(None))
    ).scalars():
        old.used_at = now
    token = secrets.token_urlsafe(32)
    db.session.add(
        ActivationToken(
            token_hash=_token_digest(token),
            user_id=target.id,
            created_by_id=actor.id if actor else None,
            created_at=now,
            expires_at=now + current_app.config["ACTIVATION_LINK_LIFETIME"],
        )
    )
    record(
        "user.activation_link_issued",
        actor=actor,
        object_type="user",
        object_id=target.id,
        member_state_code=target.agency.member_state_code,
    )
    db.session.flush()
    return token


def user_for_activation(token: str) -> User | None:
    row = db.session.execute(
        select(ActivationToken).where(ActivationToken.token_hash == _token_digest(token))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    user = db.session.get(User, row.user_id)
    return user if user is not None and user.active else None


def set_password_with_token(token: str, new: str) -> User:
    user = user_for_activation(token)
    if user is None:
        raise NotFound(_l("This link has expired or was already used. Ask your agency administrator for a new one."))
    _set_password(user, new)
    db.session.execute(
        update(ActivationToken)
        .where(ActivationToken.user_id == user.id, ActivationToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    sessions.end_all(user, sessions.EndReason.PASSWORD_CHANGED)
    record("auth.password_set_by_link", actor=user, object_type="user", object_id=user.id)
    return user


# --- profile -----------------------------------------------------------------------------


def set_language(actor: User, language: str) -> None:
    if language not in current_app.config["LANGUAGES"]:
        raise FieldError("language", _l("Choose one of the languages offered."))
    changes = field_changes({"preferred_language": actor.preferred_language}, {"preferred_language": language})
    actor.preferred_language = language
    record(
        "user.language_changed",
        actor=actor,
        object_type="user",
        object_id=actor.id,
        details={"language": language, "changes": changes},
    )


# --- user administration -----------------------------------------------------------------


@dataclass
class UserData:
    email: str
    display_name: str
    role: Role
    agency_id: int
    preferred_language: str


def _require_manageable(actor: User, target: User) -> None:
    if not can_manage_user(actor, target):
        raise NotFound()


def _check_user_data(actor: User, data: UserData, *, existing: User | None) -> Agency:
    if data.role not in assignable_roles(actor):
        raise FieldError("role", _l("You cannot give this role."))
    agency = db.session.get(Agency, data.agency_id)
    if agency is None or not agency.active:
        raise FieldError("agency_id", _l("Choose an active agency."))
    if actor.role == Role.AGENCY_ADMIN and agency.id != actor.agency_id:
        raise FieldError("agency_id", _l("You can only manage accounts of your own agency."))
    if data.role == Role.FOCAL_POINT and agency.kind != AgencyKind.NATIONAL_FOCAL_POINT:
        raise FieldError("role", _l("Only staff of a national focal point can have the focal point role."))
    if data.preferred_language not in current_app.config["LANGUAGES"]:
        raise FieldError("preferred_language", _l("Choose one of the languages offered."))
    email = normalise_email(data.email)
    clash = find_user_by_email(email)
    if clash is not None and clash is not existing:
        raise FieldError("email", _l("An account with this e-mail address already exists."))
    return agency


def create_user(actor: User, data: UserData) -> tuple[User, str]:
    """Create an account and a one-time link with which its owner sets a password."""
    _check_user_data(actor, data, existing=None)
    user = User(
        email=normalise_email(data.email),
        display_name=data.display_name.strip(),
        role=data.role,
        agency_id=data.agency_id,
        preferred_language=data.preferred_language,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        actor=actor,
        object_type="user",
        object_id=user.id,
        member_state_code=user.agency.member_state_code,
        details={"role": user.role.value, "agency_id": user.agency_id},
    )
    token = issue_activation_link(actor, user)
    return user, token


USER_FIELDS = ("email", "display_name", "role", "agency_id", "preferred_language")


def _user_values(user: User) -> dict[str, object]:
    """What an administrator can change of an account (staff data: shown in the trail)."""
    return {name: getattr(user, name) for name in USER_FIELDS}


def update_user(actor: User, target: User, data: UserData, *, version: int) -> None:
    _require_manageable(actor, target)
    _check_version(target.version, version)
    _check_user_data(actor, data, existing=target)
    before = _user_values(target)
    changes: dict[str, object] = {}
    for field in USER_FIELDS:
        new = getattr(data, field)
        if field == "email":
            new = normalise_email(new)
        if getattr(target, field) != new:
            changes[field] = new.value if isinstance(new, Role) else (new if field != "email" else "changed")
            setattr(target, field, new)
    if "role" in changes or "agency_id" in changes:
        # A new role or agency means new rights: start over with a fresh sign-in.
        sessions.end_all(target, sessions.EndReason.ROLE_CHANGED)
    if changes:
        record(
            "user.updated",
            actor=actor,
            object_type="user",
            object_id=target.id,
            member_state_code=target.agency.member_state_code,
            details={
                "changed": sorted(changes),
                "role": target.role.value,
                "agency_id": target.agency_id,
                "changes": field_changes(before, _user_values(target)),
            },
        )
    db.session.flush()


def set_user_active(actor: User, target: User, *, active: bool) -> None:
    _require_manageable(actor, target)
    if target.id == actor.id and not active:
        raise PermissionDenied(_l("You cannot deactivate your own account."))
    if target.active == active:
        return
    target.active = active
    target.deactivated_at = None if active else utcnow()
    if not active:
        sessions.end_all(target, sessions.EndReason.DEACTIVATED)
    record(
        "user.activated" if active else "user.deactivated",
        actor=actor,
        object_type="user",
        object_id=target.id,
        member_state_code=target.agency.member_state_code,
        details={"changes": field_changes({"active": not active}, {"active": active})},
    )
    db.session.flush()


def _check_version(current: int, submitted: int) -> None:
    from app.core.errors import Conflict

    if current != submitted:
        raise Conflict()


# --- agencies and Member States ------------------------------------------------------------


@dataclass
class AgencyData:
    name: str
    member_state_code: str
    kind: AgencyKind
    active: bool


def save_agency(actor: User, data: AgencyData, *, agency: Agency | None = None, version: int | None = None) -> Agency:
    if actor.role != Role.SYSTEM_ADMIN:
        raise PermissionDenied()
    if db.session.get(MemberState, data.member_state_code) is None:
        raise FieldError("member_state_code", _l("Choose a country from the list."))
    name = data.name.strip()
    clash = db.session.execute(
        select(Agency).where(
            Agency.member_state_code == data.member_state_code, func.lower(Agency.name) == name.lower()
        )
    ).scalar_one_or_none()
    if clash is not None and clash is not agency:
        raise FieldError("name", _l("An agency with this name already exists in this country."))
    created = agency is None
    if agency is None:
        agency = Agency()
        db.session.add(agency)
    elif version is not None:
        _check_version(agency.version, version)
    was_active = agency.active
    before = {} if created else _agency_values(agency)
    agency.name, agency.member_state_code, agency.kind, agency.active = (
        name,
        data.member_state_code,
        data.kind,
        data.active,
    )
    db.session.flush()
    if was_active and not data.active and not created:
        sessions.end_all_in_agency(agency.id, sessions.EndReason.DEACTIVATED)
    details: dict[str, object] = {
        "kind": agency.kind.value,
        "member_state": agency.member_state_code,
        "active": agency.active,
    }
    if not created:
        details["changes"] = field_changes(before, _agency_values(agency))
    record(
        "agency.created" if created else "agency.updated",
        actor=actor,
        object_type="agency",
        object_id=agency.id,
        member_state_code=agency.member_state_code,
        details=details,
    )
    return agency


def _agency_values(agency: Agency) -> dict[str, object]:
    return {
        "name": agency.name,
        "member_state_code": agency.member_state_code,
        "kind": agency.kind,
        "active": agency.active,
    }


@dataclass
class MemberStateSettings:
    focal_point_agency_id: int | None
    default_language: str
    timezone: str
    retention_months: int | None
    reflection_period_days: int = 30
    decision_working_days: int = 5
    holiday_subdivision: str | None = None
    referral_emergency_hours: int = 2
    referral_urgent_hours: int = 24
    referral_routine_working_days: int = 5
    audit_retention_months: int = 120
    focal_point_emergency_hours: int = 2
    focal_point_urgent_hours: int = 24
    focal_point_routine_working_days: int = 2


def update_member_state(actor: User, state: MemberState, data: MemberStateSettings, *, version: int) -> None:
    if not can_manage_member_state(actor, state):
        raise NotFound() if actor.role == Role.FOCAL_POINT else PermissionDenied()
    _check_version(state.version, version)
    if data.focal_point_agency_id is not None:
        agency = db.session.get(Agency, data.focal_point_agency_id)
        if agency is None or agency.member_state_code != state.code or agency.kind != AgencyKind.NATIONAL_FOCAL_POINT:
            raise FieldError("focal_point_agency_id", _l("Choose a national focal point agency of this country."))
    if data.timezone not in available_timezones():
        raise FieldError("timezone", _l("Enter a time zone, like Europe/Paris."))
    if data.retention_months is not None and data.retention_months <= 0:
        raise FieldError("retention_months", _l("Enter a number of months greater than zero."))
    if actor.role != Role.SYSTEM_ADMIN and data.audit_retention_months != state.audit_retention_months:
        # The trail of a focal point's own accesses is not theirs to shorten.
        raise FieldError(
            "audit_retention_months", _l("Only the system administrators change how long the audit trail is kept.")
        )
    if data.audit_retention_months < max(12, data.retention_months or 0):
        raise FieldError(
            "audit_retention_months",
            _l("Keep the audit trail at least 12 months, and at least as long as the case data."),
        )
    before = _member_state_values(state)
    state.focal_point_agency_id = data.focal_point_agency_id
    state.default_language = data.default_language
    state.timezone = data.timezone
    if data.reflection_period_days < MINIMUM_REFLECTION_DAYS:
        raise FieldError(
            "reflection_period_days", _l("Enter at least 30 days (Council of Europe Convention, Art. 13).")
        )
    if data.holiday_subdivision and data.holiday_subdivision not in holiday_subdivisions(state.code):
        raise FieldError("holiday_subdivision", _l("This region is not known for this country's public holidays."))
    state.retention_months = data.retention_months
    state.audit_retention_months = data.audit_retention_months
    state.reflection_period_days = data.reflection_period_days
    state.decision_working_days = data.decision_working_days
    state.holiday_subdivision = data.holiday_subdivision or None
    if not data.referral_emergency_hours <= data.referral_urgent_hours:
        raise FieldError("referral_urgent_hours", _l("An urgent deadline cannot be shorter than an emergency one."))
    state.referral_emergency_hours = data.referral_emergency_hours
    state.referral_urgent_hours = data.referral_urgent_hours
    state.referral_routine_working_days = data.referral_routine_working_days
    if not data.focal_point_emergency_hours <= data.focal_point_urgent_hours:
        raise FieldError("focal_point_urgent_hours", _l("An urgent deadline cannot be shorter than an emergency one."))
    state.focal_point_emergency_hours = data.focal_point_emergency_hours
    state.focal_point_urgent_hours = data.focal_point_urgent_hours
    state.focal_point_routine_working_days = data.focal_point_routine_working_days
    db.session.flush()
    record(
        "member_state.updated",
        actor=actor,
        object_type="member_state",
        object_id=state.code,
        member_state_code=state.code,  # the country changed is the one whose supervisors see it
        details={
            "focal_point_agency_id": data.focal_point_agency_id,
            "retention_months": data.retention_months,
            "default_language": data.default_language,
            "timezone": data.timezone,
            "reflection_period_days": data.reflection_period_days,
            "decision_working_days": data.decision_working_days,
            "referral_deadlines": [
                data.referral_emergency_hours,
                data.referral_urgent_hours,
                data.referral_routine_working_days,
            ],
            "changes": field_changes(before, _member_state_values(state)),
        },
    )


MEMBER_STATE_SETTINGS = (
    "focal_point_agency_id",
    "default_language",
    "timezone",
    "retention_months",
    "audit_retention_months",
    "reflection_period_days",
    "decision_working_days",
    "holiday_subdivision",
    "referral_emergency_hours",
    "referral_urgent_hours",
    "referral_routine_working_days",
    "focal_point_emergency_hours",
    "focal_point_urgent_hours",
    "focal_point_routine_working_days",
)


def _member_state_values(state: MemberState) -> dict[str, object]:
    return {name: getattr(state, name) for name in MEMBER_STATE_SETTINGS}
