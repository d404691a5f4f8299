"""Forms of the identification area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class CatalogueUploadForm(FlaskForm):
    file = FileField(
        _l("Catalogue file (YAML)"),
        validators=[FileRequired(message=_l("Choose a catalogue file."))],
        description=_l("The format is described in docs/CATALOGUE.md. A file with any problem is refused whole."),
    )
    submit = SubmitField(_l("Check and load"))


class IdentificationForm(FlaskForm):
    """The identification record. Text limits here; rules that need data live in the service."""

    encounter_date = DateField(_l("Date of the encounter"), validators=[InputRequired(message=_l("Enter the date."))])
    encounter_time = TimeField(_l("Time (optional)"), validators=[Optional()])
    encounter_country = SelectField(
        _l("Country of the encounter"), validators=[InputRequired(message=_l("Choose a country."))]
    )
    place = StringField(
        _l("Place"),
        validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters."))],
        description=_l("Town or border crossing point; no street address is needed."),
    )
    context = SelectField(_l("How the person was met"), validators=[InputRequired(message=_l("Choose one."))])
    interpreter_used = BooleanField(_l("An interpreter was used"))
    existing_case = SelectField(
        _l("Add to an existing case"),
        validators=[Optional()],
        description=_l("Choose a case if you have met this person before; otherwise a new case is opened."),
    )
    anonymous = BooleanField(
        _l("The adult does not consent: record an anonymous notification"),
        description=_l(
            "No name, date of birth, document or contact details are stored; the person is still "
            "counted in the statistics."
        ),
    )

    given_names = StringField(
        _l("Given names"), validators=[Optional(), Length(max=120, message=_l("Use at most 120 characters."))]
    )
    family_name = StringField(
        _l("Family name"), validators=[Optional(), Length(max=120, message=_l("Use at most 120 characters."))]
    )
    aliases = StringField(
        _l("Other names or aliases"),
        validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters."))],
    )
    date_of_birth = DateField(_l("Date of birth, if known"), validators=[Optional()])
    estimated_age = IntegerField(
        _l("Estimated age in years"),
        validators=[Optional(), NumberRange(min=0, max=119, message=_l("Enter an age from 0 to 119."))],
    )
    age_estimation = SelectField(_l("How the age is known"), validators=[Optional()])
    may_be_child = BooleanField(_l("There are reasons to believe this person may be a child"))
    gender = SelectField(_l("Gender"), validators=[Optional()])
    citizenships = SelectMultipleField(_l("Citizenship(s)"), validators=[Optional()])
    languages = SelectMultipleField(_l("Languages spoken"), validators=[Optional()])
    document_type = SelectField(_l("Identity document seen"), validators=[InputRequired(message=_l("Choose one."))])
    document_number = StringField(
        _l("Document number"), validators=[Optional(), Length(max=60, message=_l("Use at most 60 characters."))]
    )
    contact_details = StringField(
        _l("Contact details"),
        validators=[Optional(), Length(max=300, message=_l("Use at most 300 characters."))],
        description=_l("Only what is safe to use: a trafficker may control the person's phone."),
    )

    forms_of_exploitation = SelectMultipleField(
        _l("Forms of exploitation suspected"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
    )

    medical_emergency = BooleanField(_l("Needs urgent medical care"))
    accommodation_tonight = BooleanField(_l("Needs a safe place to sleep tonight"))
    interpreter_language = SelectField(_l("Needs an interpreter in"), validators=[Optional()])
    child_protection = BooleanField(_l("Child protection must be involved"))
    risk_level = SelectField(_l("Risk from traffickers"), validators=[InputRequired(message=_l("Choose one."))])
    risk_note = StringField(
        _l("About the risk"), validators=[Optional(), Length(max=500, message=_l("Use at most 500 characters."))]
    )
    observations = TextAreaField(
        _l("Observations"), validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))]
    )


class AmendmentForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is the record corrected?"),
        validators=[
            InputRequired(message=_l("Say why the record is corrected.")),
            Length(max=500, message=_l("Use at most 500 characters.")),
        ],
    )
    place = StringField(
        _l("Place"), validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters."))]
    )
    risk_level = SelectField(_l("Risk from traffickers"), validators=[InputRequired(message=_l("Choose one."))])
    risk_note = StringField(
        _l("About the risk"), validators=[Optional(), Length(max=500, message=_l("Use at most 500 characters."))]
    )
    medical_emergency = BooleanField(_l("Needs urgent medical care"))
    accommodation_tonight = BooleanField(_l("Needs a safe place to sleep tonight"))
    child_protection = BooleanField(_l("Child protection must be involved"))
    observations = TextAreaField(
        _l("Observations"), validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))]
    )
