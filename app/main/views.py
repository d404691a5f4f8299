"""Home page, language picker and health check."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import accounts as perms
from app.core.permissions import public, requires
from app.core.redirects import safe_local_target
from app.extensions import csrf, db

bp = Blueprint("main", __name__)


@bp.route("/")
@requires(perms.SELF_SERVICE)
def index() -> ResponseReturnValue:
    return render_template("main/index.html")


@bp.route("/language", methods=["POST"])
@public
def set_language() -> ResponseReturnValue:
    """The language picker in the page header; works before signing in too."""
    language = request.form.get("language", "")
    if language in current_app.config["LANGUAGES"]:
        session["language"] = language
        if current_user.is_authenticated:
            from app.accounts.services import set_language as save_preference

            save_preference(current_user, language)
            db.session.commit()
    return redirect(safe_local_target(request.form.get("next")))


@bp.route("/healthz")
@public
@csrf.exempt
def healthz() -> ResponseReturnValue:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
