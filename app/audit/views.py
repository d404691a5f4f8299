"""Supervisor pages (the trail, a case's trail, a user's activity, anomalies, exports,
checkpoints, the break-glass review queue) and the break-glass request itself."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app import audit as perms
from app import cases as case_perms
from app.accounts.models import Agency
from app.accounts.services import FieldError
from app.audit import break_glass, queries
from app.audit.forms import REVIEW_TITLES, BreakGlassForm, PageForm, ReviewForm, TrailFilterForm
from app.audit.models import BreakGlassReview
from app.audit.services import record
from app.audit.signing import public_jwk
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.forms import attach_field_error
from app.core.permissions import requires
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")
MAX_ID = 2**62  # larger numbers are no id of ours (and overflow SQLite's integers)
emergency_bp = Blueprint("emergency", __name__, url_prefix="/emergency-access")


@bp.context_processor
def _helpers() -> dict[str, object]:
    return {"changes_of": queries.grouped_changes, "review_titles": REVIEW_TITLES}


def _page_args() -> PageForm:
    """Keyset paging parameters; anything but a plausible sequence number is ignored."""
    form = PageForm(formdata=request.args)
    form.validate()
    for field in (form.older_than, form.after):
        if field.errors or (field.data is not None and not 0 < field.data < MAX_ID):
            field.data = None
    return form


def _filter_form(formdata: object, *, posted: bool) -> TrailFilterForm:
    form = TrailFilterForm(formdata=formdata or None)  # POSTs are checked by CSRFProtect
    if not posted:
        form.user_email.data = None  # e-mail addresses are typed into the POSTed form only
    state = current_user.agency.member_state_code
    agencies = db.session.execute(
        select(Agency.id, Agency.name).where(Agency.member_state_code == state).order_by(Agency.name)
    ).all()
    form.set_agencies([(agency_id, name) for agency_id, name in agencies])
    return form


def _refused_filter(form: TrailFilterForm) -> ResponseReturnValue:
    """Malformed filters change nothing and are recorded (which fields, not what was typed)."""
    record("audit.filter_refused", actor=current_user, details={"fields": sorted(form.errors)})
    db.session.commit()
    return render_template("audit/index.html", form=form, page=None, query={}), 400


@bp.route("/", methods=["GET", "POST"])
@requires(perms.VIEW_AUDIT)
def index() -> ResponseReturnValue:
    """POST: the typed filters become a GET address with ids only (post/redirect/get).
    GET: the filtered trail, newest first."""
    posted = request.method == "POST"
    form = _filter_form(request.form if posted else request.args, posted=posted)
    if form.validate():
        try:
            trail = form.trail_filter()
            if posted:  # checked, and the e-mail address turned into an id, before any URL
                trail = queries.resolved(current_user, trail)
                return redirect(url_for("audit.index", **trail.as_details()))
            page = queries.search(current_user, trail, older_than=_page_args().older_than.data)  # checks it too
        except FieldError as exc:
            attach_field_error(form, exc.field, exc.message)
        else:
            if trail.user_id is not None:  # show the filter as typed: the user's address
                form.user_email.data = queries.user_in_state(current_user, user_id=trail.user_id).email
            db.session.commit()  # the audit entry of what was shown
            return render_template("audit/index.html", form=form, page=page, query=trail.as_details())
    return _refused_filter(form)


@bp.route("/export", methods=["POST"])
@requires(perms.EXPORT_AUDIT)
def export() -> ResponseReturnValue:
    """A POST (with its CSRF token): an export verifies, signs and records, so a link from
    elsewhere must not be able to start one."""
    form = _filter_form(request.form, posted=True)
    fmt = request.form.get("format", "csv")
    if fmt not in ("csv", "json"):
        fmt = "csv"
    if form.validate():
        try:
            trail = queries.resolved(current_user, form.trail_filter())
            result = queries.export(current_user, trail, fmt)
        except FieldError as exc:
            attach_field_error(form, exc.field, exc.message)
        except queries.ChainBroken as exc:
            record("audit.export_refused", actor=current_user, details={"first_broken_seq": exc.seq})
            db.session.commit()
            flash(
                _(
                    "The audit trail did not verify (first broken entry: %(seq)s). Nothing was exported; "
                    "tell the system administrators.",
                    seq=exc.seq,
                ),
                "error",
            )
            return redirect(url_for("audit.index", **trail.as_details()))
        else:
            db.session.commit()  # the checkpoint and the audit entry of the export
            return Response(
                result.body,
                mimetype=result.mimetype,
                headers={
                    "Content-Disposition": f'attachment; filename="{result.filename}"',
                    "Cache-Control": "no-store",
                },
            )
    return _refused_filter(form)


@bp.route("/cases/<case_id>")
@requires(perms.VIEW_AUDIT)
def case_trail(case_id: str) -> ResponseReturnValue:
    case, page = queries.case_trail(current_user, case_id, after=_page_args().after.data)
    db.session.commit()
    return render_template("audit/case.html", case=case, page=page)


@bp.route("/users/<int:user_id>")
@requires(perms.VIEW_AUDIT)
def user_activity(user_id: int) -> ResponseReturnValue:
    if not 0 < user_id < MAX_ID:
        raise NotFound()
    user, page = queries.user_activity(current_user, user_id, older_than=_page_args().older_than.data)
    db.session.commit()
    return render_template("audit/user.html", user=user, page=page)


@bp.route("/anomalies")
@requires(perms.VIEW_AUDIT)
def anomalies() -> ResponseReturnValue:
    days = request.args.get("days", "7")
    days_value = int(days) if days.isascii() and days.isdigit() and 1 <= int(days) <= 90 else 7
    found = queries.anomalies(
        current_user,
        since=utcnow() - timedelta(days=days_value),
        threshold=int(current_app.config["AUDIT_CASES_PER_HOUR_THRESHOLD"]),
        quiet_hours=queries.parse_quiet_hours(str(current_app.config["AUDIT_QUIET_HOURS"])),
    )
    db.session.commit()
    return render_template("audit/anomalies.html", found=found, days=days_value)


@bp.route("/checkpoints")
@requires(perms.VIEW_AUDIT)
def checkpoints() -> ResponseReturnValue:
    rows = queries.checkpoints(current_user)
    record("audit.checkpoints_viewed", actor=current_user)
    db.session.commit()
    return render_template("audit/checkpoints.html", rows=rows, jwk=public_jwk())


@bp.route("/public-key.jwk")
@requires(perms.VIEW_AUDIT)
def public_key() -> ResponseReturnValue:
    return jsonify(public_jwk())


@bp.route("/break-glass")
@requires(perms.REVIEW_BREAK_GLASS)
def break_glass_queue() -> ResponseReturnValue:
    waiting, reviewed = break_glass.review_queue(current_user)
    db.session.commit()
    return render_template("audit/break_glass_queue.html", waiting=waiting, reviewed=reviewed, now=utcnow())


@bp.route("/break-glass/<grant_id>", methods=["GET", "POST"])
@requires(perms.REVIEW_BREAK_GLASS)
def break_glass_review(grant_id: str) -> ResponseReturnValue:
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            break_glass.review(
                current_user,
                grant_id,
                outcome=BreakGlassReview(form.outcome.data),
                note=form.note.data or "",
                version=int(form.version.data) if (form.version.data or "").isdigit() else 0,
                now=utcnow(),
            )
        except FieldError as exc:
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("Your review is recorded."), "success")
            return redirect(url_for("audit.break_glass_queue"))
    detail = break_glass.grant_detail(current_user, grant_id)
    db.session.commit()
    if request.method == "GET":
        form.version.data = str(detail.grant.version)
    status = 400 if request.method == "POST" else 200
    return render_template("audit/break_glass_review.html", detail=detail, form=form, now=utcnow()), status


@emergency_bp.route("/", methods=["GET", "POST"])
@requires(case_perms.BREAK_GLASS)
def request_access() -> ResponseReturnValue:
    form = BreakGlassForm()
    if form.validate_on_submit():
        try:
            grant = break_glass.request_access(
                current_user,
                reference=form.reference.data or "",
                justification=form.justification.data or "",
                now=utcnow(),
                duration=current_app.config["BREAK_GLASS_DURATION"],
            )
        except FieldError as exc:
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(
                _(
                    "Emergency access granted until %(time)s (UTC). Your supervisor has been told and will review it.",
                    time=grant.expires_at.strftime("%H:%M"),
                ),
                "warning",
            )
            return redirect(url_for("cases.detail", case_id=grant.case_id))
    status = 400 if request.method == "POST" else 200
    return render_template("audit/emergency_access.html", form=form), status
