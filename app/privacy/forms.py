"""Consent forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.core.forms import CheckboxListField, select_choices
from app.privacy.models import GivenBy

GIVEN_BY_TITLES = {GivenBy.PERSON: _l("The person"), GivenBy.GUARDIAN: _l("A guardian or legal representative")}


class ConsentForm(FlaskForm):
    given_by = SelectField(
        _l("Consent given by"),
        choices=select_choices((g.value, GIVEN_BY_TITLES[g]) for g in GivenBy),
        validators=[InputRequired(message=_l("Choose one."))],
    )
    given_on = DateField(_l("Date consent was given"), validators=[InputRequired(message=_l("Enter the date."))])
    language = SelectField(
        _l("Language in which it was explained"), validators=[InputRequired(message=_l("Choose a language."))]
    )
    assistance_referral = BooleanField(_l("Referral to assistance services"))
    data_sharing = BooleanField(_l("Sharing data with the recipients named below"))
    recipients = StringField(
        _l("Named recipients"), validators=[Optional(), Length(max=300, message=_l("Use at most 300 characters."))]
    )
    organization_ids = CheckboxListField(
        _l("Organisations in the directory the data may be shared with"),
        validators=[Optional()],
        description=_l("A referral to an organisation needs consent that names it."),
    )
    cross_border = BooleanField(_l("Transfer to another country"))
    explained = TextAreaField(
        _l("What was explained"),
        validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))],
        description=_l("Purposes, who will see what, the right to withdraw at any time."),
    )


class WithdrawForm(FlaskForm):
    withdrawn_on = DateField(_l("Date of withdrawal"), validators=[InputRequired(message=_l("Enter the date."))])
