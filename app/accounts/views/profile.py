"""A user's own account: password, two-factor, sessions.

Changing the password or the second factor asks for the current password again
(ASVS V3.7.1); wrong guesses are throttled like sign-in attempts.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app import accounts as perms
from app.accounts import services, two_factor
from app.accounts.forms import ChangePasswordForm, ConfirmForm, PasswordConfirmForm, ProfileEnrolForm
from app.accounts.services import FieldError
from app.accounts.throttling import attempt_failed, limit, signed_in_account_key
from app.core.errors import PermissionDenied
from app.core.forms import attach_field_error
from app.core.permissions import requires
from app.extensions import db, limiter

bp = Blueprint("profile", __name__, url_prefix="/account")

# One budget of wrong passwords per account, shared by every page that asks for it.
_throttled = limiter.shared_limit(
    limit("SIGN_IN_LIMIT_PER_ACCOUNT"),
    scope="reauthentication",
    key_func=signed_in_account_key,
    methods=["POST"],
    deduct_when=attempt_failed,
)


def _failed(form: PasswordConfirmForm | ChangePasswordForm | ProfileEnrolForm, exc: FieldError) -> None:
    """Keep the audit entry of the failed attempt, count it, and show the message."""
    db.session.commit()
    g.attempt_failed = True
    attach_field_error(form, exc.field, exc.message)


def _password_confirmed(form: PasswordConfirmForm) -> bool:
    """True when the form was sent with the right current password."""
    if not form.validate_on_submit():
        return False
    try:
        services.confirm_password(current_user, form.current_password.data or "")
    except FieldError as exc:
        _failed(form, exc)
        return False
    return True


@bp.route("/")
@requires(perms.SELF_SERVICE)
def overview() -> ResponseReturnValue:
    return render_template(
        "accounts/profile.html",
        recovery_left=services.remaining_recovery_codes(current_user),
        two_factor_required=services.two_factor_required(current_user),
    )


@bp.route("/password", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
@_throttled
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, current=form.current_password.data or "", new=form.new_password.data or ""
            )
        except FieldError as exc:
            _failed(form, exc)
        else:
            db.session.commit()
            flash(_("Your password is changed. Your other sessions have been ended."), "success")
            return redirect(url_for("profile.overview"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
@_throttled
def two_factor_setup() -> ResponseReturnValue:
    """Turn on two-factor sign-in, or move it to a new phone."""
    form = ProfileEnrolForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            services.confirm_password(user, form.current_password.data or "")
            codes = services.confirm_two_factor_enrolment(user, form.code.data or "")
        except FieldError as exc:
            _failed(form, exc)
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


@bp.route("/two-factor/disable", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
@_throttled
def two_factor_disable() -> ResponseReturnValue:
    if services.two_factor_required(current_user):
        raise PermissionDenied(_("Two-factor sign-in is mandatory for your role."))
    form = PasswordConfirmForm()
    if _password_confirmed(form):
        services.disable_two_factor(current_user)
        db.session.commit()
        flash(_("Two-factor sign-in is off."), "success")
        return redirect(url_for("profile.overview"))
    return render_template(
        "accounts/confirm_password.html",
        form=form,
        title=_("Turn off two-factor sign-in"),
        button=_("Turn off two-factor sign-in"),
    )


@bp.route("/two-factor/recovery-codes", methods=["GET", "POST"])
@requires(perms.SELF_SERVICE)
@_throttled
def recovery_codes() -> ResponseReturnValue:
    if not current_user.two_factor_enabled:
        return redirect(url_for("profile.overview"))
    form = PasswordConfirmForm()
    if _password_confirmed(form):
        codes = services.regenerate_recovery_codes(current_user)
        db.session.commit()
        return render_template("accounts/recovery_codes.html", codes=codes)
    return render_template(
        "accounts/confirm_password.html",
        form=form,
        title=_("Make new recovery codes"),
        button=_("Make new recovery codes"),
        hint=_("Your old recovery codes stop working when the new ones are made."),
    )


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
