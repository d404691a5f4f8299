"""Sign-in (password, then two-factor or enrolment), activation links and sign-out."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app import accounts as perms
from app.accounts import services
from app.accounts import two_factor as totp
from app.accounts.forms import EnrolForm, SetPasswordForm, SignInForm, TwoFactorForm
from app.accounts.models import User
from app.accounts.services import FieldError
from app.accounts.throttling import attempt_failed, limit, pending_account_key, submitted_account_key
from app.core.forms import attach_field_error
from app.core.permissions import public, requires
from app.core.redirects import safe_local_target
from app.core.request_context import client_address
from app.extensions import db, limiter

bp = Blueprint("accounts", __name__)

PENDING_KEY = "pending_sign_in"


def _pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    lifetime = current_app.config["PENDING_SIGN_IN_LIFETIME"].total_seconds()
    if time.time() - float(pending.get("at", 0)) > lifetime:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or not user.agency.active:
        session.pop(PENDING_KEY, None)
        return None
    return user


def _finish_sign_in(user: User) -> ResponseReturnValue:
    next_url = (session.get(PENDING_KEY) or {}).get("next")
    _open_session(user)
    return redirect(safe_local_target(next_url))


def _open_session(user: User) -> None:
    token = services.start_session(user, client_address=client_address(), user_agent=request.headers.get("User-Agent"))
    db.session.commit()
    language = session.get("language")
    session.clear()  # a fresh session at sign-in: nothing from before carries over
    session["sid"] = token
    if language:
        session["language"] = language


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(limit("SIGN_IN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=attempt_failed)
@limiter.limit(
    limit("SIGN_IN_LIMIT_PER_ACCOUNT"), key_func=submitted_account_key, methods=["POST"], deduct_when=attempt_failed
)
def sign_in() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = SignInForm()
    if form.validate_on_submit():
        user = services.check_password(form.email.data or "", form.password.data or "")
        if user is None:
            g.attempt_failed = True
            db.session.commit()
            attach_field_error(form, "password", _("The e-mail address or password is not right."))
            form.password.data = ""
            return render_template("accounts/sign_in.html", form=form), 200
        db.session.commit()
        session[PENDING_KEY] = {"uid": user.id, "at": time.time(), "next": request.args.get("next")}
        if user.two_factor_enabled:
            return redirect(url_for("accounts.two_factor"))
        if services.two_factor_required(user):
            return redirect(url_for("accounts.enrol"))
        return _finish_sign_in(user)
    ended = session.pop("session_ended", False)
    return render_template("accounts/sign_in.html", form=form, session_ended=ended)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@limiter.limit(limit("SIGN_IN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=attempt_failed)
@limiter.limit(
    limit("SIGN_IN_LIMIT_PER_ACCOUNT"), key_func=pending_account_key, methods=["POST"], deduct_when=attempt_failed
)
def two_factor() -> ResponseReturnValue:
    user = _pending_user()
    if user is None or not user.two_factor_enabled:
        flash(_("Your sign-in took too long. Please start again."), "warning")
        return redirect(url_for("accounts.sign_in"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if services.check_second_factor(user, form.code.data or ""):
            return _finish_sign_in(user)
        g.attempt_failed = True
        db.session.commit()
        attach_field_error(form, "code", _("That code is not right. Enter the current code from your app."))
        form.code.data = ""
    return render_template("accounts/two_factor.html", form=form)


@bp.route("/sign-in/set-up-two-factor", methods=["GET", "POST"])
@public
@limiter.limit(limit("SIGN_IN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=attempt_failed)
@limiter.limit(
    limit("SIGN_IN_LIMIT_PER_ACCOUNT"), key_func=pending_account_key, methods=["POST"], deduct_when=attempt_failed
)
def enrol() -> ResponseReturnValue:
    """Mandatory enrolment during sign-in for a user who has no second factor yet."""
    user = _pending_user()
    if user is None or user.two_factor_enabled:
        return redirect(url_for("accounts.sign_in"))
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = services.confirm_two_factor_enrolment(user, form.code.data or "")
        except FieldError as exc:
            g.attempt_failed = True
            db.session.commit()
            attach_field_error(form, exc.field, exc.message)
        else:
            _open_session(user)
            # Shown once, in this response only: never stored where they could be read back.
            return render_template("accounts/recovery_codes.html", codes=codes)
    secret = services.pending_two_factor_secret(user)
    db.session.commit()
    uri = totp.provisioning_uri(user, secret, current_app.config["TOTP_ISSUER"])
    form.code.data = ""
    return render_template("accounts/enrol.html", form=form, qr=totp.qr_svg(uri), secret=secret, user=user)


@bp.route("/activate/<token>", methods=["GET"])
@public
def activation_link(token: str) -> ResponseReturnValue:
    """Move the token out of the address bar into the session, then show the form."""
    session["activation_token"] = token
    return redirect(url_for("accounts.activate"))


@bp.route("/activate", methods=["GET", "POST"])
@public
@limiter.limit(limit("SIGN_IN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=attempt_failed)
def activate() -> ResponseReturnValue:
    token = session.get("activation_token", "")
    user = services.user_for_activation(token) if token else None
    if user is None:
        session.pop("activation_token", None)
        return render_template("accounts/activation_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_password_with_token(token, form.new_password.data or "")
        except FieldError as exc:
            g.attempt_failed = True
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            session.pop("activation_token", None)
            flash(_("Your password is set. You can now sign in."), "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/activate.html", form=form, user=user)


@bp.route("/sign-out", methods=["POST"])
@requires(perms.SELF_SERVICE)
def sign_out() -> ResponseReturnValue:
    services.sign_out(current_user._get_current_object())
    db.session.commit()
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    flash(_("You are signed out."), "success")
    return redirect(url_for("accounts.sign_in"))
