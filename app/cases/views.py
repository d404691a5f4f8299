"""My cases, and a case with its person, identifications and timeline."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_login import current_user

from app import cases as perms
from app.cases import services
from app.core.permissions import requires
from app.extensions import db
from app.identification import records
from app.identification.assessment import ChildReason, Level, assess

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.route("/")
@requires(perms.VIEW_CASES)
def my_cases() -> ResponseReturnValue:
    return render_template(
        "cases/my_cases.html",
        cases=services.my_cases(current_user),
        Level=Level,
        can_identify=records.can_identify(current_user),
    )


@bp.route("/<case_id>")
@requires(perms.VIEW_CASES)
def detail(case_id: str) -> ResponseReturnValue:
    case, identifications, events = services.view_case(current_user, case_id)
    db.session.commit()  # the audit entry of this view
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
    )
