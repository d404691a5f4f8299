"""The identification form: draft, assessment preview, submission."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app import cases as perms
from app.accounts.models import MemberState
from app.accounts.services import FieldError
from app.audit.services import record
from app.cases.vocabulary import AgeEstimation, DocumentType, EncounterContext, Gender, RiskLevel
from app.core.forms import attach_field_error, select_choices
from app.core.i18n import all_countries, all_languages, country_name
from app.core.permissions import requires
from app.extensions import db
from app.identification import amendments, records
from app.identification.assessment import presume_child
from app.identification.catalogue import Catalogue, IndicatorSet
from app.identification.forms import AmendmentForm, IdentificationForm
from app.identification.vocabulary import AGE_GROUP_TITLES, STRENGTH_TITLES, AgeGroup, ExploitationForm

bp = Blueprint("identifications", __name__, url_prefix="/identifications")

NOTE_PREFIX = "note-"


def _choices(form: IdentificationForm) -> None:
    blank = [("", "\u2013")]
    states = db.session.execute(db.select(MemberState.code)).scalars().all()
    form.encounter_country.choices = select_choices(
        sorted(((c, country_name(c)) for c in states), key=lambda item: item[1])
    )
    form.context.choices = select_choices((c.value, c.title) for c in EncounterContext)
    form.age_estimation.choices = select_choices([*blank, *((a.value, a.title) for a in AgeEstimation)])
    form.gender.choices = select_choices([*blank, *((g.value, g.title) for g in Gender)])
    form.citizenships.choices = select_choices(all_countries())
    form.languages.choices = select_choices(all_languages())
    form.interpreter_language.choices = select_choices([*blank, *all_languages()])
    form.document_type.choices = select_choices((d.value, d.title) for d in DocumentType)
    form.forms_of_exploitation.choices = select_choices((f.value, f.title) for f in ExploitationForm)
    form.risk_level.choices = select_choices((r.value, r.title) for r in RiskLevel)
    form.existing_case.choices = select_choices(
        [("", _("No: open a new case")), *((c.id, c.reference) for c in records.open_cases_for(current_user))]
    )


def _relevant_sets(catalogue: Catalogue, form: IdentificationForm) -> tuple[bool, list[IndicatorSet]]:
    """Child rules or not, and the indicator sets that fit the forms of exploitation ticked."""
    on = form.encounter_date.data or datetime.now().date()  # noqa: DTZ005 - a calendar date for the age check
    child = presume_child(
        on=on,
        date_of_birth=form.date_of_birth.data,
        estimated_age=form.estimated_age.data if not form.estimated_age.errors else None,
        may_be_child=bool(form.may_be_child.data),
    ).is_child
    group = AgeGroup.CHILD if child else AgeGroup.ADULT
    ticked = set(form.forms_of_exploitation.data or [])
    sets = [s for s in catalogue.sets_for(group) if not ticked or ticked & {f.value for f in s.forms}]
    return child, sets or list(catalogue.sets_for(group))


def _indicators_from(values: MultiDict[str, str]) -> dict[str, str]:
    return {i: (values.get(NOTE_PREFIX + i) or "").strip() for i in values.getlist("indicators")}


def _data(form: IdentificationForm, indicators: dict[str, str]) -> records.IdentificationData:
    encounter_at = datetime.combine(form.encounter_date.data, form.encounter_time.data or time(0, 0))
    return records.IdentificationData(
        encounter_at=encounter_at,
        encounter_country=form.encounter_country.data or "",
        place=(form.place.data or "").strip(),
        context=EncounterContext(form.context.data),
        interpreter_used=bool(form.interpreter_used.data),
        given_names=(form.given_names.data or "").strip(),
        family_name=(form.family_name.data or "").strip(),
        aliases=(form.aliases.data or "").strip(),
        date_of_birth=form.date_of_birth.data,
        estimated_age=form.estimated_age.data,
        age_estimation=AgeEstimation(form.age_estimation.data) if form.age_estimation.data else None,
        may_be_child=bool(form.may_be_child.data),
        gender=Gender(form.gender.data) if form.gender.data else None,
        citizenships=list(form.citizenships.data or []),
        languages=list(form.languages.data or []),
        document_type=DocumentType(form.document_type.data),
        document_number=(form.document_number.data or "").strip(),
        contact_details=(form.contact_details.data or "").strip(),
        forms=[ExploitationForm(f) for f in form.forms_of_exploitation.data or []],
        indicators=indicators,
        medical_emergency=bool(form.medical_emergency.data),
        accommodation_tonight=bool(form.accommodation_tonight.data),
        interpreter_language=form.interpreter_language.data or "",
        child_protection=bool(form.child_protection.data),
        risk_level=RiskLevel(form.risk_level.data),
        risk_note=(form.risk_note.data or "").strip(),
        observations=(form.observations.data or "").strip(),
        anonymous=bool(form.anonymous.data),
    )


@bp.route("/new", methods=["POST"])
@requires(perms.IDENTIFY)
def new() -> ResponseReturnValue:
    draft = records.start_draft(current_user)
    db.session.commit()
    return redirect(url_for("identifications.edit", record_id=draft.id))


@bp.route("/<record_id>", methods=["GET", "POST"])
@requires(perms.IDENTIFY)
def edit(record_id: str) -> ResponseReturnValue:
    row = records.own_draft(current_user, record_id)
    catalogue = records.catalogue_of(row)
    if request.method == "POST":
        typed = MultiDict((k, v) for k, v in request.form.items(multi=True) if k != "csrf_token")
        records.save_draft(current_user, row, {k: typed.getlist(k) for k in typed})
        db.session.commit()
        values = typed
    else:
        values = MultiDict([(k, v) for k, vs in records.open_draft(current_user, row).items() for v in vs])
        db.session.commit()  # the audit entry of this view
    form = IdentificationForm(formdata=values if values else None)
    _choices(form)
    if not values:
        form.encounter_country.data = current_user.agency.member_state_code
        form.document_type.data = DocumentType.NONE.value
        form.risk_level.data = RiskLevel.NONE_KNOWN.value
    indicators = _indicators_from(values)
    action = request.form.get("action", "save")
    assessment = child = None
    if request.method == "POST" and action in {"preview", "submit"} and form.validate():
        data = _data(form, indicators)
        try:
            if action == "submit":
                submission = records.submit(current_user, row, data, form.existing_case.data or None)
                db.session.commit()
                case = submission.case
                flash(_("The identification is submitted and case %(ref)s is open.", ref=case.reference), "success")
                if submission.possible_duplicates:
                    flash(_("A possible match with an earlier case was sent to the national focal point."), "info")
                return redirect(url_for("cases.detail", case_id=case.id))
            child, assessment = records.preview(row, data)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
    elif request.method == "POST" and action == "save":
        flash(_("Draft saved."), "success")
    is_child, sets = _relevant_sets(catalogue, form)
    return render_template(
        "identification/record_form.html",
        form=form,
        row=row,
        catalogue=catalogue,
        sets=sets,
        is_child=is_child,
        chosen=indicators,
        assessment=assessment,
        child=child,
        language=str(get_locale() or "en"),
        age_group_titles=AGE_GROUP_TITLES,
        strength_titles=STRENGTH_TITLES,
        note_prefix=NOTE_PREFIX,
    )


@bp.route("/<record_id>/amend", methods=["GET", "POST"])
@requires(perms.VIEW_CASES)
def amend(record_id: str) -> ResponseReturnValue:
    row, case = amendments.amendable_record(current_user, record_id)
    current = amendments.current_values(row)
    if request.method == "GET":
        record(
            "identification.viewed",
            actor=current_user,
            object_type="identification",
            object_id=row.id,
            details={"case": case.id},
        )
        db.session.commit()
    form = AmendmentForm(data=None if request.method == "POST" else {k: current.get(k) for k in amendments.AMENDABLE})
    form.risk_level.choices = select_choices((r.value, r.title) for r in RiskLevel)
    if form.validate_on_submit():
        new = {
            name: bool(getattr(form, name).data)
            if name in amendments.FLAGS
            else (getattr(form, name).data or "").strip()
            for name in amendments.AMENDABLE
        }
        try:
            amendments.amend(current_user, row, case, reason=form.reason.data or "", new=new)
        except FieldError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("The correction is recorded; the original stays visible."), "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("identification/amend.html", form=form, case=case, row=row)
