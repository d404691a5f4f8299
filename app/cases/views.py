"""My cases, and a case with its person, identifications, timeline and status."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app import cases as perms
from app import referrals as referral_perms
from app.accounts.forms import ConfirmForm
from app.accounts.roles import has_permission
from app.accounts.services import FieldError
from app.cases import duplicates as duplicate_service
from app.cases import services, work
from app.cases.forms import VISIBILITY_TITLES, CaseStatusForm, NoteForm, TaskForm
from app.cases.models import NoteVisibility
from app.cases.policies import active_grant, in_ordinary_scope
from app.cases.states import CASE_TRANSITIONS, case_worker
from app.cases.vocabulary import CLOCK_TITLES, CLOSE_REASON_TITLES, RISK_TITLES
from app.core.db import utcnow
from app.core.forms import form_version
from app.core.permissions import requires
from app.extensions import db
from app.identification import records
from app.identification.amendments import amendments_of
from app.identification.assessment import ChildReason, Level, assess
from app.privacy.forms import GIVEN_BY_TITLES, WithdrawForm
from app.privacy.services import consents_for
from app.referrals import services as referral_services

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.route("/")
@requires(perms.VIEW_CASES)
def my_cases() -> ResponseReturnValue:
    cases = services.my_cases(current_user)
    db.session.commit()  # the audit entry of what was shown
    today = utcnow().date()
    rows = services.with_clocks(cases, today)
    return render_template(
        "cases/my_cases.html",
        rows=rows,
        Level=Level,
        can_identify=records.can_identify(current_user),
        clock_titles=CLOCK_TITLES,
        today=today,
    )


@bp.route("/<case_id>")
@requires(perms.VIEW_CASES)
def detail(case_id: str) -> ResponseReturnValue:
    case, identifications, events = services.view_case(current_user, case_id)
    db.session.commit()  # the audit entry of this view
    notes, tasks = work.notes_and_tasks(case)
    emergency = None if in_ordinary_scope(current_user, case) else active_grant(current_user, case.id)
    if emergency is not None:  # emergency access reads what may be shared, not agency-only notes
        notes = [n for n in notes if n.visibility == NoteVisibility.SHAREABLE]
    corrections = amendments_of([row.id for row in identifications])
    explained = []
    for row in identifications:
        content = services.content_of(row)
        catalogue = records.catalogue_of(row)
        result = assess(catalogue, content.get("indicators", {}), child=bool(row.presumed_child))
        explained.append((row, content, catalogue, result))
    return render_template(
        "cases/detail.html",
        case=case,
        explained=explained,
        events=events,
        Level=Level,
        ChildReason=ChildReason,
        language=str(get_locale() or "en"),
        transitions=CASE_TRANSITIONS.available(case.status, current_user, case),
        status_form=CaseStatusForm(),
        close_reasons=CLOSE_REASON_TITLES,
        consents=consents_for(case),
        given_by_titles=GIVEN_BY_TITLES,
        withdraw_form=WithdrawForm(),
        can_act=case_worker(current_user, case),
        clocks=services.clocks(case, case.member_state, utcnow().date()),
        notes=notes,
        corrections=corrections,
        risk_titles=RISK_TITLES,
        tasks=tasks,
        note_form=NoteForm(),
        visibility_titles=VISIBILITY_TITLES,
        task_form=TaskForm(),
        confirm_form=ConfirmForm(),
        today=utcnow().date(),
        clock_titles=CLOCK_TITLES,
        referrals=referral_services.of_case(case),
        can_refer=case_worker(current_user, case)
        and has_permission(current_user.role, referral_perms.MAKE_REFERRALS.name),
        emergency=emergency,
    )


@bp.route("/<case_id>/status", methods=["POST"])
@requires(perms.VIEW_CASES)
def change_status(case_id: str) -> ResponseReturnValue:
    case = services.visible_case(current_user, case_id)
    form = CaseStatusForm()
    if form.validate_on_submit():
        try:
            services.change_status(
                current_user,
                case,
                form.action.data or "",
                reason=form.reason.data or "",
                version=form_version(form),
            )
        except FieldError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The case status is changed."), "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.route("/duplicates")
@requires(perms.RESOLVE_DUPLICATES)
def duplicates() -> ResponseReturnValue:
    rows = duplicate_service.open_duplicates(current_user)
    db.session.commit()  # the audit entry of what was shown
    return render_template("cases/duplicates.html", duplicates=rows, form=ConfirmForm(), Level=Level)


@bp.route("/duplicates/<int:duplicate_id>", methods=["POST"])
@requires(perms.RESOLVE_DUPLICATES)
def decide_duplicate(duplicate_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        same = request.form.get("decision") == "link"
        duplicate_service.decide(current_user, duplicate_id, same_person=same)
        db.session.commit()
        flash(_("Linked as the same person.") if same else _("Dismissed: different people."), "success")
    return redirect(url_for("cases.duplicates"))


@bp.route("/<case_id>/notes", methods=["POST"])
@requires(perms.VIEW_CASES)
def add_note(case_id: str) -> ResponseReturnValue:
    case = services.visible_case(current_user, case_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            work.add_note(current_user, case, form.text.data or "", NoteVisibility(form.visibility.data))
        except FieldError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Note added."), "success")
    else:
        flash(_("Write the note and choose who may see it."), "error")
    return redirect(url_for("cases.detail", case_id=case.id, _anchor="notes"))


@bp.route("/<case_id>/tasks", methods=["POST"])
@requires(perms.VIEW_CASES)
def add_task(case_id: str) -> ResponseReturnValue:
    case = services.visible_case(current_user, case_id)
    form = TaskForm()
    if form.validate_on_submit() and form.due_on.data is not None:
        try:
            work.add_task(current_user, case, form.title.data or "", form.due_on.data)
        except FieldError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            db.session.commit()
            flash(_("Task added."), "success")
    else:
        flash(_("Say what needs doing and by when."), "error")
    return redirect(url_for("cases.detail", case_id=case.id, _anchor="tasks"))


@bp.route("/<case_id>/tasks/<task_id>/done", methods=["POST"])
@requires(perms.VIEW_CASES)
def complete_task(case_id: str, task_id: str) -> ResponseReturnValue:
    case = services.visible_case(current_user, case_id)
    if ConfirmForm().validate_on_submit():
        work.complete_task(current_user, case, task_id)
        db.session.commit()
        flash(_("Task done."), "success")
    return redirect(url_for("cases.detail", case_id=case.id, _anchor="tasks"))
