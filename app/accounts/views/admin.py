"""Administration: users (agency and system administrators), agencies and Member States."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import accounts as perms
from app.accounts import policies, services
from app.accounts.forms import AgencyForm, ConfirmForm, MemberStateForm, UserForm
from app.accounts.models import Agency, MemberState, User
from app.accounts.reference_data import EU_LANGUAGES
from app.accounts.roles import AgencyKind, Role
from app.accounts.services import AgencyData, FieldError, MemberStateSettings, UserData
from app.core.errors import NotFound
from app.core.forms import attach_field_error, form_version, select_choices
from app.core.i18n import country_name, language_choices, language_name
from app.core.permissions import requires
from app.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _manageable_user_or_404(user_id: int) -> User:
    user = db.session.execute(
        policies.manageable_users(current_user, select(User).where(User.id == user_id))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound()
    return user


def _user_form(obj: User | None = None) -> UserForm:
    form = UserForm(obj=obj)
    agencies = (
        db.session.execute(
            select(Agency)
            .where(policies.agencies_for_new_users_filter(current_user))
            .order_by(Agency.member_state_code, Agency.name)
        )
        .scalars()
        .all()
    )
    form.set_choices(
        policies.assignable_roles(current_user),
        [(a.id, f"{a.name} ({a.member_state_code})") for a in agencies],
        language_choices(),
    )
    if obj is not None and request.method == "GET":
        form.role.data = obj.role.value
        form.version.data = str(obj.version)
    return form


def _user_data(form: UserForm) -> UserData:
    return UserData(
        email=form.email.data or "",
        display_name=form.display_name.data or "",
        role=Role(form.role.data),
        agency_id=int(form.agency_id.data or 0),
        preferred_language=form.preferred_language.data or "en",
    )


@bp.route("/users")
@requires(perms.MANAGE_USERS)
def users() -> ResponseReturnValue:
    rows = (
        db.session.execute(
            policies.manageable_users(current_user, select(User).options(joinedload(User.agency))).order_by(
                User.active.desc(), User.display_name
            )
        )
        .scalars()
        .all()
    )
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@requires(perms.MANAGE_USERS)
def user_new() -> ResponseReturnValue:
    form = _user_form()
    if request.method == "GET":
        form.agency_id.data = current_user.agency_id
    if form.validate_on_submit():
        try:
            user, token = services.create_user(current_user, _user_data(form))
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            return _activation_page(user, token, new=True)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(perms.MANAGE_USERS)
def user_edit(user_id: int) -> ResponseReturnValue:
    user = _manageable_user_or_404(user_id)
    form = _user_form(user)
    if form.validate_on_submit():
        try:
            services.update_user(current_user, user, _user_data(form), version=form_version(form))
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("The account is saved."), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user, confirm_form=ConfirmForm())


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires(perms.MANAGE_USERS)
def user_deactivate(user_id: int) -> ResponseReturnValue:
    user = _manageable_user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        services.set_user_active(current_user, user, active=False)
        db.session.commit()
        flash(_("The account is deactivated and its sessions have ended."), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@requires(perms.MANAGE_USERS)
def user_reactivate(user_id: int) -> ResponseReturnValue:
    user = _manageable_user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        services.set_user_active(current_user, user, active=True)
        db.session.commit()
        flash(_("The account is active again."), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/reset-two-factor", methods=["POST"])
@requires(perms.MANAGE_USERS)
def user_reset_two_factor(user_id: int) -> ResponseReturnValue:
    user = _manageable_user_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        services.reset_two_factor(current_user, user)
        db.session.commit()
        flash(_("Two-factor sign-in is reset. The person sets it up again at their next sign-in."), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/password-link", methods=["POST"])
@requires(perms.MANAGE_USERS)
def user_password_link(user_id: int) -> ResponseReturnValue:
    user = _manageable_user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.user_edit", user_id=user.id))
    token = services.issue_activation_link(current_user, user)
    db.session.commit()
    return _activation_page(user, token, new=False)


def _activation_page(user: User, token: str, *, new: bool) -> ResponseReturnValue:
    """The one-time link is shown in this response only; it is stored as a digest."""
    hours = int(current_app.config["ACTIVATION_LINK_LIFETIME"].total_seconds() // 3600)
    link = url_for("accounts.activation_link", token=token, _external=True)
    return render_template("admin/activation_link.html", user=user, link=link, new=new, hours=hours)


# --- agencies ----------------------------------------------------------------------------


def _country_choices() -> list[tuple[str, str]]:
    codes = db.session.execute(select(MemberState.code)).scalars().all()
    return sorted(((code, country_name(code)) for code in codes), key=lambda item: item[1])


@bp.route("/agencies")
@requires(perms.VIEW_DIRECTORY_OF_AGENCIES)
def agencies() -> ResponseReturnValue:
    rows = (
        db.session.execute(
            select(Agency)
            .where(policies.visible_agencies_filter(current_user))
            .order_by(Agency.member_state_code, Agency.name)
        )
        .scalars()
        .all()
    )
    return render_template("admin/agencies.html", agencies=rows)


@bp.route("/agencies/new", methods=["GET", "POST"])
@requires(perms.MANAGE_AGENCIES)
def agency_new() -> ResponseReturnValue:
    return _agency_form(None)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@requires(perms.MANAGE_AGENCIES)
def agency_edit(agency_id: int) -> ResponseReturnValue:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound()
    return _agency_form(agency)


def _agency_form(agency: Agency | None) -> ResponseReturnValue:
    form = AgencyForm(obj=agency)
    form.member_state_code.choices = select_choices(_country_choices())
    if agency is not None and request.method == "GET":
        form.kind.data = agency.kind.value
        form.version.data = str(agency.version)
    if form.validate_on_submit():
        data = AgencyData(
            name=form.name.data or "",
            member_state_code=form.member_state_code.data or "",
            kind=AgencyKind(form.kind.data),
            active=bool(form.active.data),
        )
        try:
            services.save_agency(
                current_user, data, agency=agency, version=form_version(form) if form.version.data else None
            )
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("The agency is saved."), "success")
            return redirect(url_for("admin.agencies"))
    return render_template("admin/agency_form.html", form=form, agency=agency)


# --- Member States ------------------------------------------------------------------------


@bp.route("/member-states")
@requires(perms.MANAGE_MEMBER_STATES)
def member_states() -> ResponseReturnValue:
    rows = (
        db.session.execute(
            select(MemberState)
            .options(joinedload(MemberState.focal_point_agency))
            .where(policies.manageable_member_states_filter(current_user))
        )
        .scalars()
        .all()
    )
    rows = sorted(rows, key=lambda state: (not state.is_eu, country_name(state.code)))
    return render_template("admin/member_states.html", states=rows)


@bp.route("/member-states/<code>", methods=["GET", "POST"])
@requires(perms.MANAGE_MEMBER_STATES)
def member_state_edit(code: str) -> ResponseReturnValue:
    state = db.session.get(MemberState, code.upper())
    if state is None or not policies.can_manage_member_state(current_user, state):
        raise NotFound()
    form = MemberStateForm(obj=state)
    focal_points = (
        db.session.execute(
            select(Agency)
            .where(Agency.member_state_code == state.code, Agency.kind == AgencyKind.NATIONAL_FOCAL_POINT)
            .order_by(Agency.name)
        )
        .scalars()
        .all()
    )
    form.focal_point_agency_id.choices = select_choices([(0, _("None yet")), *((a.id, a.name) for a in focal_points)])
    form.default_language.choices = select_choices(
        sorted(((code, language_name(code)) for code in EU_LANGUAGES), key=lambda item: item[1])
    )
    if request.method == "GET":
        form.focal_point_agency_id.data = state.focal_point_agency_id or 0
        form.version.data = str(state.version)
    if form.validate_on_submit():
        data = MemberStateSettings(
            focal_point_agency_id=form.focal_point_agency_id.data or None,
            default_language=form.default_language.data or "en",
            timezone=(form.timezone.data or "").strip(),
            retention_months=form.retention_months.data,
            audit_retention_months=form.audit_retention_months.data or 0,
            reflection_period_days=form.reflection_period_days.data or 0,
            decision_working_days=form.decision_working_days.data or 0,
            holiday_subdivision=(form.holiday_subdivision.data or "").strip().upper() or None,
            referral_emergency_hours=form.referral_emergency_hours.data or 0,
            referral_urgent_hours=form.referral_urgent_hours.data or 0,
            referral_routine_working_days=form.referral_routine_working_days.data or 0,
            focal_point_emergency_hours=form.focal_point_emergency_hours.data or 0,
            focal_point_urgent_hours=form.focal_point_urgent_hours.data or 0,
            focal_point_routine_working_days=form.focal_point_routine_working_days.data or 0,
        )
        try:
            services.update_member_state(current_user, state, data, version=form_version(form))
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("The settings are saved."), "success")
            return redirect(url_for("admin.member_states"))
    return render_template("admin/member_state_form.html", form=form, state=state)
