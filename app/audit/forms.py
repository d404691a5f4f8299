"""Forms of the supervisor pages and of the break-glass request."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from app.audit.models import BreakGlassReview
from app.audit.queries import TrailFilter
from app.core.forms import select_choices

NOT_A_DATE = _l("Enter a date as YYYY-MM-DD, for example 2026-11-29.")

REVIEW_TITLES = {
    BreakGlassReview.JUSTIFIED: _l("Justified: the emergency access was needed"),
    BreakGlassReview.NOT_JUSTIFIED: _l("Not justified: follow up with the user and their agency"),
}


def _optional_int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


class TrailFilterForm(FlaskForm):
    """Filters of the trail. Typed into a POSTed form (an e-mail address never reaches a
    URL); the page then shows them as a GET query with ids only (bookmarkable, pageable),
    and exports POST them back. The app-wide CSRFProtect checks those POSTs."""

    class Meta:
        csrf = False

    case_reference = StringField(
        _l("Case reference"),
        validators=[
            Optional(),
            Length(max=20, message=_l("A case reference has at most 20 characters.")),
            Regexp(r"^[A-Za-z0-9-]+$", message=_l("A case reference has letters, digits and dashes only.")),
        ],
    )
    user_email = StringField(
        _l("User (e-mail address)"),
        validators=[Optional(), Email(message=_l("Enter an e-mail address, like name@agency.example."))],
    )
    user_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**62)])
    agency_id = SelectField(
        _l("Agency"), coerce=lambda v: int(v) if v not in (None, "") else None, validators=[Optional()]
    )
    action = StringField(
        _l("Action"),
        description=_l('An action such as "case.viewed", or a family ending with a dot, such as "referral."'),
        validators=[
            Optional(),
            Length(max=64, message=_l("Use at most 64 characters.")),
            Regexp(r"^[a-z_.]+$", message=_l('Use lower-case letters, "_" and "." only, as in "case.viewed".')),
        ],
    )
    date_from = DateField(_l("From (date)"), validators=[Optional()], format="%Y-%m-%d")
    date_to = DateField(_l("To (date, included)"), validators=[Optional()], format="%Y-%m-%d")

    def set_agencies(self, agencies: list[tuple[int, str]]) -> None:
        self.agency_id.choices = select_choices([("", _l("Any agency")), *agencies])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date comes before the start date."))

    def _translated_errors(self) -> None:
        """WTForms' own messages for a bad date or an unknown agency are not translated: use ours."""
        for date_field in (self.date_from, self.date_to):
            if date_field.raw_data and date_field.raw_data[0] and date_field.data is None:
                date_field.errors = [NOT_A_DATE]
        if self.agency_id.errors:
            self.agency_id.errors = [_l("Choose an agency from the list.")]
        if self.user_id.errors:
            self.user_id.errors = []
            self.user_email.errors = [*self.user_email.errors, _l("No user with this e-mail address in your country.")]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = bool(super().validate(extra_validators))
        self._translated_errors()
        return ok

    def trail_filter(self) -> TrailFilter:
        return TrailFilter(
            case_reference=(self.case_reference.data or "").strip() or None,
            user_email=(self.user_email.data or "").strip() or None,
            user_id=self.user_id.data,
            agency_id=self.agency_id.data,
            action=(self.action.data or "").strip() or None,
            date_from=self.date_from.data,
            date_to=self.date_to.data,
        )


class BreakGlassForm(FlaskForm):
    reference = StringField(
        _l("Case reference"),
        validators=[
            DataRequired(message=_l("Enter the reference of the case.")),
            Length(max=20, message=_l("A case reference has at most 20 characters.")),
        ],
    )
    justification = TextAreaField(
        _l("Why do you need this case now?"),
        description=_l("Your supervisor reads this. Say what the emergency is; do not write the person's name."),
        validators=[
            DataRequired(message=_l("Say why you need emergency access.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
    )


class ReviewForm(FlaskForm):
    outcome = RadioField(
        _l("Your review"),
        choices=select_choices((o.value, title) for o, title in REVIEW_TITLES.items()),
        validators=[InputRequired(message=_l("Choose whether the access was justified."))],
    )
    note = TextAreaField(
        _l("Note"),
        description=_l("Required when the access was not justified."),
        validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))],
    )
    version = HiddenField()


class PageForm(FlaskForm):
    """Keyset paging parameters (GET)."""

    class Meta:
        csrf = False

    older_than = IntegerField(validators=[Optional()])
    after = IntegerField(validators=[Optional()])
