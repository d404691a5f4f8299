"""Referral pages: make one from a case, the recipient's inbox, the sender's list, and one
referral seen from either side."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import referrals as perms
from app.accounts.models import MemberState
from app.accounts.services import FieldError
from app.cases import services as cases
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.forms import attach_field_error, form_version, select_choices
from app.core.permissions import requires
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.identification.assessment import Level
from app.referrals import federated, services
from app.referrals.forms import (
    CompleteForm,
    DeclineForm,
    IdentityRequestForm,
    PeerReferralForm,
    ReferralForm,
    ReturnForm,
    RouteForm,
    TransitionForm,
)
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
    countries = services.cross_border_countries(case)
    country = request.args.get("country") or None
    if country is not None and country not in countries:
        raise NotFound()
    excluded = set(request.args.getlist("instead_of"))
    # A country served by a peer installation: its focal point chooses the service there.
    remote = country is not None and federated.peer_for(country) is not None
    suggestions = [] if remote else suggestions_for(case, exclude=excluded, country=country)
    if request.method == "GET":
        services.record_form_viewed(current_user, case, [s.service.id for s in suggestions])
        db.session.commit()  # the audit entry of this view
    form: ReferralForm = PeerReferralForm() if remote else ReferralForm()
    if not remote:
        form.service_id.choices = select_choices((s.service.id, s.service.name) for s in suggestions)
    if form.validate_on_submit():
        data = services.ReferralRequest(
            service_id="" if remote else form.service_id.data or "",
            country=country if remote and country else "",
            service_type=ServiceType(form.service_type.data) if isinstance(form, PeerReferralForm) else None,
            purpose=form.purpose.data or "",
            urgency=Urgency(form.urgency.data),
            shared_parts=[SharedPart(p) for p in form.shared_parts.data or []],
            legal_basis=LegalBasis(form.legal_basis.data),
            justification=form.justification.data or "",
            send=request.form.get("action") != "draft",
            pseudonymised=bool(form.pseudonymised.data),
        )
        try:
            referral = services.create(current_user, case, data)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
            services.record_refused(current_user, "create", exc.field, case_id=case.id)
            db.session.commit()
        else:
            db.session.commit()
            flash(SENT_MESSAGES.get(referral.status, _("The referral is saved as a draft.")), "success")
            return redirect(url_for("referrals.detail", referral_id=referral.id))
    return render_template(
        "referrals/new.html",
        case=case,
        form=form,
        suggestions=suggestions,
        Level=Level,
        state=case.member_state,
        country=country,
        countries=countries,
        destination=db.session.get(MemberState, country) if country else None,
        remote=remote,
    )


SENT_MESSAGES = {
    ReferralStatus.SENT: _l("The referral is sent."),
    ReferralStatus.FOCAL_POINT_REVIEW: _l("The referral is sent to your national focal point for approval."),
    ReferralStatus.FOCAL_POINT_ROUTING: _l("The referral is sent to the other country's focal point."),
}


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


ACTION_FORMS: dict[str, type[TransitionForm]] = {
    "decline": DeclineForm,
    "complete": CompleteForm,
    "return": ReturnForm,
    "route": RouteForm,
}
SENDING_SIDES = (Side.SENDER, Side.SENDING_FOCAL_POINT)
RECEIVING_SIDES = (Side.RECIPIENT, Side.RECEIVING_FOCAL_POINT)


def _action_form(action: str, referral: Referral, *, posted: bool) -> TransitionForm:
    form_class = ACTION_FORMS.get(action, TransitionForm)
    form = form_class() if posted else form_class(version=referral.version, formdata=None)
    if isinstance(form, RouteForm):
        choices = services.routing_choices(referral)
        form.service_id.choices = select_choices(
            (s.service.id, f"{s.service.name} \u2013 {s.service.organization.name}") for s in choices
        )
        if not posted:
            form.service_id.data = referral.service_id
    return form


def _render_detail(
    referral: Referral,
    side: Side,
    *,
    failed: TransitionForm | None = None,
    failed_action: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    now = utcnow()
    shared = None
    if side in RECEIVING_SIDES and can_read_shared(
        current_user, referral, now, current_app.config["REFERRAL_ACCESS_GRACE"]
    ):
        shared = shared_case(current_user, referral, now.date())
    else:
        services.record_viewed(current_user, referral, side)
    db.session.commit()  # the audit entry of what is shown
    reroute = []
    if (
        side == Side.SENDER
        and referral.status in (ReferralStatus.DECLINED, ReferralStatus.EXPIRED)
        and referral.case is not None
        and referral.service_id is not None
    ):
        reroute = suggestions_for(referral.case, exclude={referral.service_id})[:5]
    actions = REFERRAL_TRANSITIONS.available(referral.status, current_user, referral)
    forms = {t.action: _action_form(t.action, referral, posted=False) for t in actions if t.action in ACTION_FORMS}
    if failed is not None:
        forms[failed_action] = failed
    identity_form = (
        failed if failed_action == "identity" else IdentityRequestForm(version=referral.version, formdata=None)
    )
    page = render_template(
        "referrals/detail.html",
        referral=referral,
        side=side,
        sending_side=side in SENDING_SIDES,
        shared=shared,
        history=services.history(referral),
        times=services.response_times(referral),
        actions=actions,
        form=TransitionForm(version=referral.version),
        forms=forms,
        identity_form=identity_form,
        can_request_identity=side in RECEIVING_SIDES and services.identity_requestable(referral),
        can_decide_identity=side in SENDING_SIDES and services.identity_pending(referral),
        reroute=reroute,
        now=now,
        language=str(get_locale() or "en"),
        decline_titles=DECLINE_REASON_TITLES,
        outcome_titles=OUTCOME_TITLES,
        status_titles=STATUS_TITLES,
        shared_part_titles=SHARED_PART_TITLES,
        event_titles=EVENT_TITLES,
        side_titles=SIDE_TITLES,
        Level=Level,
    )
    return page, status


# History rows that are not status changes, and who made each row.
EVENT_TITLES = {
    "identity_requested": _l("Identification details requested"),
    "identity_released": _l("Identification details released"),
    "identity_refused": _l("Identification details not released"),
    "return": _l("Returned to the sender"),
}
SIDE_TITLES = {
    Side.SENDER.value: _l("sender"),
    Side.RECIPIENT.value: _l("service"),
    Side.SENDING_FOCAL_POINT.value: _l("sending focal point"),
    Side.RECEIVING_FOCAL_POINT.value: _l("receiving focal point"),
}


@bp.route("/<referral_id>/<action>", methods=["POST"])
@requires(perms.VIEW_REFERRALS)
def act(referral_id: str, action: str) -> ResponseReturnValue:
    """One transition. An action with a form (decline, complete, return, route) and bad input
    shows the page again with the message next to the field and what was typed; a stale
    version is a Conflict (409)."""
    referral, side = services.get_visible(current_user, referral_id)
    form = _action_form(action, referral, posted=True)
    if form.validate_on_submit():
        answer = services.Answer()
        if isinstance(form, DeclineForm):
            answer.decline_reason = DeclineReason(form.decline_reason.data)
            answer.note = form.note.data or ""
        if isinstance(form, CompleteForm):
            answer.outcome = Outcome(form.outcome.data)
            answer.services_delivered = form.services_delivered.data or ""
        if isinstance(form, ReturnForm):
            answer.note = form.note.data or ""
        if isinstance(form, RouteForm):
            answer.service_id = form.service_id.data or ""
        try:
            services.transition(current_user, referral, action, version=form_version(form), answer=answer)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
            services.record_refused(current_user, action, exc.field, case_id=referral.case_id, referral_id=referral.id)
            db.session.commit()
        else:
            db.session.commit()
            flash(_("Done: the referral is now “%(status)s”.", status=referral.status.title), "success")
            return redirect(url_for("referrals.detail", referral_id=referral_id))
    if action not in ACTION_FORMS:
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("referrals.detail", referral_id=referral_id))
    referral, side = services.get_visible(current_user, referral_id)
    return _render_detail(referral, side, failed=form, failed_action=action, status=400)


@bp.route("/<referral_id>/identity/request", methods=["POST"])
@requires(perms.VIEW_REFERRALS)
def request_identity(referral_id: str) -> ResponseReturnValue:
    """The receiving side asks for the identification details of a pseudonymised referral."""
    referral, side = services.get_visible(current_user, referral_id)
    form = IdentityRequestForm()
    if form.validate_on_submit():
        try:
            services.request_identity(current_user, referral, form.reason.data or "", version=form_version(form))
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
            services.record_refused(
                current_user, "identity_request", exc.field, case_id=referral.case_id, referral_id=referral.id
            )
            db.session.commit()
        else:
            db.session.commit()
            flash(_("The request is sent to the sender."), "success")
            return redirect(url_for("referrals.detail", referral_id=referral_id))
    referral, side = services.get_visible(current_user, referral_id)
    return _render_detail(referral, side, failed=form, failed_action="identity", status=400)


@bp.route("/<referral_id>/identity/<decision>", methods=["POST"])
@requires(perms.VIEW_REFERRALS)
def decide_identity(referral_id: str, decision: str) -> ResponseReturnValue:
    """The sending side releases the identification details, or refuses."""
    if decision not in ("release", "refuse"):
        raise NotFound()
    referral, _side = services.get_visible(current_user, referral_id)
    form = TransitionForm()
    if not form.validate_on_submit():
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("referrals.detail", referral_id=referral_id))
    services.decide_identity(current_user, referral, release=decision == "release", version=form_version(form))
    db.session.commit()
    flash(
        _("The identification details are released.")
        if decision == "release"
        else _("The identification details are not released."),
        "success",
    )
    return redirect(url_for("referrals.detail", referral_id=referral_id))


@bp.route("/desk")
@requires(perms.CROSS_BORDER_DESK)
def desk() -> ResponseReturnValue:
    """The focal point's cross-border desk."""
    now = utcnow()
    view = services.desk(current_user, now=now)
    db.session.commit()  # the audit entry of what was shown
    return render_template("referrals/desk.html", desk=view, now=now)
