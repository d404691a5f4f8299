"""Consent pages of a case."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app import cases as perms
from app.accounts.services import FieldError
from app.cases import services as cases
from app.core.forms import attach_field_error, select_choices
from app.core.i18n import all_languages
from app.core.permissions import requires
from app.directory import queries as directory
from app.extensions import db
from app.privacy import services
from app.privacy.forms import ConsentForm, WithdrawForm
from app.privacy.models import GivenBy

bp = Blueprint("privacy", __name__, url_prefix="/cases/<case_id>/consent")


@bp.route("/new", methods=["GET", "POST"])
@requires(perms.VIEW_CASES)
def record_consent(case_id: str) -> ResponseReturnValue:
    case = cases.visible_case(current_user, case_id)
    if request.method == "GET":
        services.record_form_viewed(current_user, case)
        db.session.commit()  # the audit entry of this view
    form = ConsentForm()
    form.language.choices = select_choices(all_languages())
    form.organization_ids.choices = select_choices(
        (org.id, org.name) for org in directory.organizations_in(case.member_state_code)
    )
    if form.validate_on_submit():
        data = services.ConsentData(
            given_by=GivenBy(form.given_by.data),
            given_on=form.given_on.data,
            language=form.language.data or "",
            assistance_referral=bool(form.assistance_referral.data),
            data_sharing=bool(form.data_sharing.data),
            cross_border=bool(form.cross_border.data),
            explained=form.explained.data or "",
            recipients=form.recipients.data or "",
            organization_ids=list(form.organization_ids.data or []),
        )
        try:
            services.record_consent(current_user, case, data)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("Consent recorded."), "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("privacy/consent_form.html", form=form, case=case)


@bp.route("/<consent_id>/withdraw", methods=["POST"])
@requires(perms.VIEW_CASES)
def withdraw(case_id: str, consent_id: str) -> ResponseReturnValue:
    case = cases.visible_case(current_user, case_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            withdrawn = services.withdraw_consent(current_user, case, consent_id, on=form.withdrawn_on.data)
        except FieldError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The withdrawal of consent is recorded."), "success")
            if withdrawn:
                flash(
                    ngettext(
                        "A referral waiting at another country's focal point on this consent was withdrawn "
                        "with it. Record consent again to send it anew.",
                        "%(num)d referrals waiting at other countries' focal points on this consent were "
                        "withdrawn with it. Record consent again to send them anew.",
                        withdrawn,
                    ),
                    "success",
                )
    else:
        flash(_("Enter the date of withdrawal."), "error")
    return redirect(url_for("cases.detail", case_id=case.id))
