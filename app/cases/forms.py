"""Forms of the cases area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from app.cases.vocabulary import CloseReason
from app.core.forms import select_choices


class CaseStatusForm(FlaskForm):
    action = HiddenField()
    version = HiddenField()
    reason = SelectField(
        _l("Reason for closing"), choices=select_choices([("", "\u2013"), *((r.value, r.title) for r in CloseReason)])
    )
