"""A user's own account: password, language, two-factor, sessions."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app import accounts as perms
from app.accounts import services, two_factor
from app.accounts.forms import ChangePasswordForm, ConfirmForm, EnrolForm
from app.accounts.services import FieldError
from app.core.forms import attach_field_error
from app.core.permissions import requires
from app.extensions import db

bp = Blueprint("profile", __name__, url_prefix="/account")


@bp.route("/")
@requires(perms.SELF_SERVICE)
def overview() -> ResponseReturnValue:
    return render_template(
        "accounts/profile.html",
        confirm_form=ConfirmForm(),
        recovery_left=services.remaining_recovery_codes(current_user),
        two_factor_required=services.two_factor_required(current_user),
    )


@bp.route("/password", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, current=form.current_password.data or "", new=form.new_password.data or ""
            )
        except FieldError as exc:
            db.session.commit()  # keep the audit entry of a failed attempt
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("Your password is changed. Your other sessions have been ended."), "success")
            return redirect(url_for("profile.overview"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
def two_factor_setup() -> ResponseReturnValue:
    """Turn on two-factor sign-in, or move it to a new device."""
    form = EnrolForm()
    user = current_user._get_current_object()
    if request.method == "GET":
        services.begin_two_factor_enrolment(user)  # a fresh secret for each visit
        db.session.commit()
    elif form.validate_on_submit():
        try:
            codes = services.confirm_two_factor_enrolment(user, form.code.data or "")
        except FieldError as exc:
            db.session.commit()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            return render_template("accounts/recovery_codes.html", codes=codes)
    secret = services.pending_two_factor_secret(user)
    db.session.commit()
    uri = two_factor.provisioning_uri(user, secret, current_app.config["TOTP_ISSUER"])
    form.code.data = ""
    return render_template(
        "accounts/enrol.html", form=form, qr=two_factor.qr_svg(uri), secret=secret, user=user, from_profile=True
    )


@bp.route("/two-factor/disable", methods=["POST"])
@requires(perms.SELF_SERVICE)
def two_factor_disable() -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        services.disable_two_factor(current_user)
        db.session.commit()
        flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("profile.overview"))


@bp.route("/two-factor/recovery-codes", methods=["POST"])
@requires(perms.SELF_SERVICE)
def recovery_codes() -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit() and current_user.two_factor_enabled:
        codes = services.regenerate_recovery_codes(current_user)
        db.session.commit()
        return render_template("accounts/recovery_codes.html", codes=codes)
    return redirect(url_for("profile.overview"))


@bp.route("/sessions")
@requires(perms.SELF_SERVICE)
def sessions() -> ResponseReturnValue:
    return render_template("accounts/sessions.html", sessions=services.live_sessions(current_user), form=ConfirmForm())


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@requires(perms.SELF_SERVICE)
def end_session(session_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        services.end_own_session(current_user, session_id)
        db.session.commit()
        flash(_("The session has been ended."), "success")
    return redirect(url_for("profile.sessions"))
