"""Forms for sign-in, profile and administration. Passwords are never re-displayed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from app.accounts.roles import AgencyKind, Role
from app.core.forms import select_choices

REQUIRED_EMAIL = _l("Enter your e-mail address.")


class SignInForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(message=REQUIRED_EMAIL), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Sign in"))


class TwoFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Continue"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[DataRequired(message=_l("Enter the code.")), Length(max=12)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Turn on two-factor sign-in"))


def _current_password_field() -> PasswordField:
    return PasswordField(
        _l("Your current password"),
        validators=[DataRequired(message=_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordConfirmForm(FlaskForm):
    """Re-authentication before a sensitive change to one's own account."""

    current_password = _current_password_field()
    submit = SubmitField(_l("Confirm"))


class ProfileEnrolForm(EnrolForm):
    current_password = _current_password_field()


class SetPasswordForm(FlaskForm):
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Enter a new password."))],
        description=_l(
            "At least 12 characters. A few unrelated words make a strong password that is easy to remember."
        ),
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(message=_l("Repeat the new password."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Save password"))

    def validate_confirm_password(self, field: PasswordField) -> None:
        from wtforms.validators import ValidationError

        if field.data != self.new_password.data:
            raise ValidationError(_l("The two passwords do not match."))


class ChangePasswordForm(SetPasswordForm):
    current_password = _current_password_field()
    submit = SubmitField(_l("Change password"))


class ConfirmForm(FlaskForm):
    """An empty form for POST-only buttons: it carries the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class UserForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(message=_l("Enter an e-mail address.")),
            Email(
                message=_l("Enter an e-mail address in the right format, like name@example.org."),
                check_deliverability=False,
            ),
            Length(max=254, message=_l("Use at most 254 characters.")),
        ],
    )
    display_name = StringField(
        _l("Full name"),
        validators=[
            DataRequired(message=_l("Enter the person's name.")),
            Length(max=120, message=_l("Use at most 120 characters.")),
        ],
    )
    role = SelectField(_l("Role"), validators=[InputRequired(message=_l("Choose a role."))])
    agency_id = SelectField(_l("Agency"), coerce=int, validators=[InputRequired(message=_l("Choose an agency."))])
    preferred_language = SelectField(_l("Language"), validators=[InputRequired()])
    version = HiddenField()
    submit = SubmitField(_l("Save"))

    def set_choices(self, roles: list[Role], agencies: list[tuple[int, str]], languages: list[tuple[str, str]]) -> None:
        self.role.choices = select_choices((role.value, role.title) for role in roles)
        self.agency_id.choices = select_choices(agencies)
        self.preferred_language.choices = select_choices(languages)


class AgencyForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(message=_l("Enter the agency's name.")),
            Length(max=200, message=_l("Use at most 200 characters.")),
        ],
    )
    member_state_code = SelectField(_l("Country"), validators=[InputRequired(message=_l("Choose a country."))])
    kind = SelectField(
        _l("Kind of agency"),
        choices=select_choices((k.value, k.title) for k in AgencyKind),
        validators=[InputRequired(message=_l("Choose the kind of agency."))],
    )
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()
    submit = SubmitField(_l("Save"))


class MemberStateForm(FlaskForm):
    focal_point_agency_id = SelectField(_l("National focal point agency"), coerce=int, validators=[Optional()])
    default_language = SelectField(_l("Default language"), validators=[InputRequired()])
    timezone = StringField(
        _l("Time zone"), validators=[DataRequired(message=_l("Enter a time zone, like Europe/Paris.")), Length(max=64)]
    )
    retention_months = IntegerField(
        _l("Retention of case data (months)"),
        validators=[Optional(), NumberRange(min=1, max=1200, message=_l("Enter a number from 1 to 1200."))],
    )
    audit_retention_months = IntegerField(
        _l("Retention of the audit trail (months)"),
        validators=[
            InputRequired(message=_l("Enter a number of months.")),
            NumberRange(min=12, max=1200, message=_l("Enter a number from 12 to 1200.")),
        ],
    )
    reflection_period_days = IntegerField(
        _l("Recovery and reflection period (days)"),
        validators=[
            InputRequired(message=_l("Enter a number of days.")),
            NumberRange(
                min=30, max=3650, message=_l("Enter at least 30 days (Council of Europe Convention, Art. 13).")
            ),
        ],
    )
    decision_working_days = IntegerField(
        _l("Reasonable-grounds decision deadline (working days)"),
        validators=[
            InputRequired(message=_l("Enter a number of working days.")),
            NumberRange(min=1, max=60, message=_l("Enter a number from 1 to 60.")),
        ],
    )
    holiday_subdivision = StringField(
        _l("Region for public holidays (optional)"),
        validators=[Optional(), Length(max=10, message=_l("Use at most 10 characters."))],
    )
    referral_emergency_hours = IntegerField(
        _l("Response deadline for emergency referrals (hours)"),
        validators=[
            InputRequired(message=_l("Enter a number of hours.")),
            NumberRange(min=1, max=72, message=_l("Enter a number from 1 to 72.")),
        ],
    )
    referral_urgent_hours = IntegerField(
        _l("Response deadline for urgent referrals (hours)"),
        validators=[
            InputRequired(message=_l("Enter a number of hours.")),
            NumberRange(min=1, max=168, message=_l("Enter a number from 1 to 168.")),
        ],
    )
    referral_routine_working_days = IntegerField(
        _l("Response deadline for routine referrals (working days)"),
        validators=[
            InputRequired(message=_l("Enter a number of working days.")),
            NumberRange(min=1, max=60, message=_l("Enter a number from 1 to 60.")),
        ],
    )
    focal_point_emergency_hours = IntegerField(
        _l("Focal point's deadline for emergency referrals (hours)"),
        validators=[
            InputRequired(message=_l("Enter a number of hours.")),
            NumberRange(min=1, max=72, message=_l("Enter a number from 1 to 72.")),
        ],
    )
    focal_point_urgent_hours = IntegerField(
        _l("Focal point's deadline for urgent referrals (hours)"),
        validators=[
            InputRequired(message=_l("Enter a number of hours.")),
            NumberRange(min=1, max=168, message=_l("Enter a number from 1 to 168.")),
        ],
    )
    focal_point_routine_working_days = IntegerField(
        _l("Focal point's deadline for routine referrals (working days)"),
        validators=[
            InputRequired(message=_l("Enter a number of working days.")),
            NumberRange(min=1, max=60, message=_l("Enter a number from 1 to 60.")),
        ],
    )
    version = HiddenField()
    submit = SubmitField(_l("Save"))
