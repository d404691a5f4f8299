"""Referral pages: make one from a case, the recipient's inbox, the sender's list, and one
referral seen from either side."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app import referrals as perms
from app.accounts.services import FieldError
from app.cases import services as cases
from app.core.db import utcnow
from app.core.forms import attach_field_error, select_choices
from app.core.permissions import requires
from app.extensions import db
from app.identification.assessment import Level
from app.referrals import services
from app.referrals.forms import CompleteForm, DeclineForm, ReferralForm, TransitionForm
from app.referrals.matching import suggestions_for
from app.referrals.models import Referral
from app.referrals.policies import can_read_shared
from app.referrals.sharing import shared_case
from app.referrals.states import REFERRAL_TRANSITIONS
from app.referrals.vocabulary import (
    DECLINE_REASON_TITLES,
    OUTCOME_TITLES,
    SHARED_PART_TITLES,
    STATUS_TITLES,
    DeclineReason,
    LegalBasis,
    Outcome,
    ReferralStatus,
    SharedPart,
    Side,
    Urgency,
)

bp = Blueprint("referrals", __name__, url_prefix="/referrals")


@bp.route("/new/<case_id>", methods=["GET", "POST"])
@requires(perms.MAKE_REFERRALS)
def new(case_id: str) -> ResponseReturnValue:
    case = cases.visible_case(current_user, case_id)
    excluded = set(request.args.getlist("instead_of"))
    suggestions = suggestions_for(case, exclude=excluded)
    if request.method == "GET":
        services.record_form_viewed(current_user, case, [s.service.id for s in suggestions])
        db.session.commit()  # the audit entry of this view
    form = ReferralForm()
    form.service_id.choices = select_choices((s.service.id, s.service.name) for s in suggestions)
    if form.validate_on_submit():
        data = services.ReferralRequest(
            service_id=form.service_id.data or "",
            purpose=form.purpose.data or "",
            urgency=Urgency(form.urgency.data),
            shared_parts=[SharedPart(p) for p in form.shared_parts.data or []],
            legal_basis=LegalBasis(form.legal_basis.data),
            justification=form.justification.data or "",
            send=request.form.get("action") != "draft",
        )
        try:
            referral = services.create(current_user, case, data)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("The referral is sent.") if data.send else _("The referral is saved as a draft."), "success")
            return redirect(url_for("referrals.detail", referral_id=referral.id))
    return render_template(
        "referrals/new.html",
        case=case,
        form=form,
        suggestions=suggestions,
        Level=Level,
        state=case.member_state,
    )


@bp.route("/inbox")
@requires(perms.RECEIVE_REFERRALS)
def inbox() -> ResponseReturnValue:
    now = utcnow()
    box = services.inbox(current_user, now=now, grace=current_app.config["REFERRAL_ACCESS_GRACE"])
    db.session.commit()  # the audit entry of what was shown
    return render_template("referrals/inbox.html", box=box, now=now)


@bp.route("/sent")
@requires(perms.MAKE_REFERRALS)
def sent() -> ResponseReturnValue:
    rows = services.sent(current_user)
    db.session.commit()  # the audit entry of what was shown
    return render_template("referrals/sent.html", rows=rows, now=utcnow())


@bp.route("/<referral_id>")
@requires(perms.VIEW_REFERRALS)
def detail(referral_id: str) -> ResponseReturnValue:
    referral, side = services.get_visible(current_user, referral_id)
    return _render_detail(referral, side)


def _render_detail(
    referral: Referral,
    side: Side,
    *,
    decline_form: DeclineForm | None = None,
    complete_form: CompleteForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    now = utcnow()
    shared = None
    if side == Side.RECIPIENT and can_read_shared(
        current_user, referral, now, current_app.config["REFERRAL_ACCESS_GRACE"]
    ):
        shared = shared_case(current_user, referral, now.date())
    else:
        services.record_viewed(current_user, referral, side)
    db.session.commit()  # the audit entry of what is shown
    reroute = []
    if side == Side.SENDER and referral.status in (ReferralStatus.DECLINED, ReferralStatus.EXPIRED):
        reroute = suggestions_for(referral.case, exclude={referral.service_id})[:5]
    page = render_template(
        "referrals/detail.html",
        referral=referral,
        side=side,
        shared=shared,
        history=services.history(referral),
        times=services.response_times(referral),
        actions=REFERRAL_TRANSITIONS.available(referral.status, current_user, referral),
        form=TransitionForm(version=referral.version),
        decline_form=decline_form or DeclineForm(version=referral.version, formdata=None),
        complete_form=complete_form or CompleteForm(version=referral.version, formdata=None),
        reroute=reroute,
        now=now,
        language=str(get_locale() or "en"),
        decline_titles=DECLINE_REASON_TITLES,
        outcome_titles=OUTCOME_TITLES,
        status_titles=STATUS_TITLES,
        shared_part_titles=SHARED_PART_TITLES,
        Level=Level,
    )
    return page, status


@bp.route("/<referral_id>/<action>", methods=["POST"])
@requires(perms.VIEW_REFERRALS)
def act(referral_id: str, action: str) -> ResponseReturnValue:
    """One transition. A decline or completion with bad input shows the page again with the
    message next to the field and what was typed; a stale version is a Conflict (409)."""
    referral, side = services.get_visible(current_user, referral_id)
    decline_form = DeclineForm() if action == "decline" else None
    complete_form = CompleteForm() if action == "complete" else None
    form = decline_form or complete_form or TransitionForm()
    if form.validate_on_submit():
        answer = services.Answer()
        if decline_form is not None:
            answer.decline_reason = DeclineReason(decline_form.decline_reason.data)
            answer.note = decline_form.note.data or ""
        if complete_form is not None:
            answer.outcome = Outcome(complete_form.outcome.data)
            answer.services_delivered = complete_form.services_delivered.data or ""
        try:
            services.transition(current_user, referral, action, version=int(form.version.data or 0), answer=answer)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("Done: the referral is now “%(status)s”.", status=referral.status.title), "success")
            return redirect(url_for("referrals.detail", referral_id=referral_id))
    if decline_form is None and complete_form is None:
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("referrals.detail", referral_id=referral_id))
    referral, side = services.get_visible(current_user, referral_id)
    return _render_detail(referral, side, decline_form=decline_form, complete_form=complete_form, status=400)
