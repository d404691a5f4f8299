"""Consulting the indicators, and loading a national catalogue version."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app import identification as perms
from app.accounts.services import FieldError
from app.core.forms import attach_field_error
from app.core.permissions import requires
from app.extensions import db
from app.identification import services
from app.identification.catalogue import CatalogueInvalid, bundled_catalogue
from app.identification.forms import CatalogueUploadForm
from app.identification.vocabulary import AGE_GROUP_TITLES, STRENGTH_TITLES

bp = Blueprint("identification", __name__, url_prefix="/indicators")


@bp.route("/")
@requires(perms.VIEW_CATALOGUE)
def catalogue() -> ResponseReturnValue:
    state = current_user.agency.member_state_code
    current = services.active_catalogue(state)
    chosen = request.args.get("set")
    indicator_set = next((s for s in current.sets if s.id == chosen), current.sets[0])
    return render_template(
        "identification/catalogue.html",
        catalogue=current,
        indicator_set=indicator_set,
        language=str(get_locale() or "en"),
        can_manage=services.can_manage_catalogue(current_user, state),
        age_group_titles=AGE_GROUP_TITLES,
        strength_titles=STRENGTH_TITLES,
    )


@bp.route("/versions", methods=["GET", "POST"])
@requires(perms.MANAGE_CATALOGUE)
def versions() -> ResponseReturnValue:
    state = current_user.agency.member_state_code
    form = CatalogueUploadForm()
    problems = []
    if form.validate_on_submit():
        try:
            loaded = services.load_catalogue(current_user, state, form.file.data.read())
        except CatalogueInvalid as exc:
            db.session.rollback()
            problems = exc.problems
            attach_field_error(
                form, "file", _("The file has %(count)s problem(s); nothing was changed.", count=len(exc.problems))
            )
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("Catalogue %(key)s is now in use.", key=f"{loaded.catalogue_id}@{loaded.version}"), "success")
            return redirect(url_for("identification.versions"))
    return render_template(
        "identification/versions.html",
        form=form,
        problems=problems,
        versions=services.versions(state),
        bundled=bundled_catalogue(),
    )
