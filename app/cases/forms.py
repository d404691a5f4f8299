"""Forms of the cases area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.cases.models import NoteVisibility
from app.cases.vocabulary import CloseReason
from app.core.forms import select_choices


class CaseStatusForm(FlaskForm):
    action = HiddenField()
    version = HiddenField()
    reason = SelectField(
        _l("Reason for closing"), choices=select_choices([("", "\u2013"), *((r.value, r.title) for r in CloseReason)])
    )


VISIBILITY_TITLES = {
    NoteVisibility.AGENCY: _l("My agency and the national focal point only"),
    NoteVisibility.SHAREABLE: _l("May be shared with the services the person is referred to"),
}


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Note"), validators=[InputRequired(), Length(max=4000)])
    visibility = SelectField(
        _l("Who may see it"), choices=select_choices((v.value, t) for v, t in VISIBILITY_TITLES.items())
    )


class TaskForm(FlaskForm):
    title = StringField(_l("Task"), validators=[InputRequired(), Length(max=200)])
    due_on = DateField(_l("Due on"), validators=[InputRequired()])
