"""Forms of the directory: search filters, organisations, services, live capacity, import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from app.core.forms import CheckboxListField, select_choices
from app.directory.queries import SearchFilters
from app.directory.vocabulary import ServiceType, TargetGroup

AT_MOST_200 = _l("Use at most 200 characters.")
AT_MOST_5000 = _l("Use at most 5000 characters.")


def service_type_choices() -> list[tuple[str, str]]:
    return sorted(((t.value, str(t.title)) for t in ServiceType), key=lambda item: item[1])


class SearchForm(FlaskForm):
    """Filters, sent as a GET query: bookmarkable, and no CSRF token needed."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Name of the service or organisation"),
        validators=[Optional(), Length(max=100, message=_l("Use at most 100 characters."))],
    )
    service_type = SelectField(_l("Need"), validators=[Optional()])
    country = SelectField(_l("Country"), validators=[Optional()])
    region = StringField(
        _l("Region or city"), validators=[Optional(), Length(max=120, message=_l("Use at most 120 characters."))]
    )
    language = SelectField(_l("Language spoken"), validators=[Optional()])
    target_group = SelectField(_l("Open to"), validators=[Optional()])
    free_capacity = BooleanField(_l("Only services with free places now"))

    def set_choices(self, countries: list[tuple[str, str]], languages: list[tuple[str, str]]) -> None:
        self.service_type.choices = select_choices([("", _l("Any need")), *service_type_choices()])
        self.country.choices = select_choices([("", _l("Any country")), *countries])
        self.language.choices = select_choices([("", _l("Any language")), *languages])
        self.target_group.choices = select_choices([("", _l("Anyone")), *((g.value, g.title) for g in TargetGroup)])

    def filters(self) -> SearchFilters:
        """The filters chosen (call after a successful ``validate()``: the codes are known)."""
        return SearchFilters(
            member_state_code=self.country.data or None,
            region=(self.region.data or "").strip(),
            service_type=ServiceType(self.service_type.data) if self.service_type.data else None,
            language=self.language.data or None,
            target_group=TargetGroup(self.target_group.data) if self.target_group.data else None,
            free_capacity=bool(self.free_capacity.data),
            text=(self.q.data or "").strip(),
        )


class OrganizationForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Enter the organisation's name.")), Length(max=200, message=AT_MOST_200)],
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000, message=AT_MOST_5000)])
    email = EmailField(
        _l("E-mail address"),
        validators=[Optional(), Length(max=254, message=_l("Use at most 254 characters."))],
        render_kw={"spellcheck": "false"},
    )
    website = URLField(
        _l("Website"),
        validators=[Optional(), Length(max=300, message=_l("Use at most 300 characters."))],
        description=_l("Starting with https://"),
        render_kw={"spellcheck": "false"},
    )
    member_state_code = SelectField(_l("Country"), validators=[InputRequired(message=_l("Choose a country."))])
    agency_id = SelectField(
        _l("Agency on this system"),
        coerce=int,
        validators=[Optional()],
        description=_l("Its caseworkers receive referrals and keep the capacity of its services up to date."),
    )
    version = HiddenField()


class ServiceForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Enter the service's name.")), Length(max=200, message=AT_MOST_200)],
    )
    service_type = SelectField(
        _l("Type of service"), validators=[InputRequired(message=_l("Choose a type of service from the list."))]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000, message=AT_MOST_5000)])
    member_state_code = SelectField(_l("Country"), validators=[InputRequired(message=_l("Choose a country."))])
    region = StringField(
        _l("Region or city (optional)"),
        validators=[Optional(), Length(max=120, message=_l("Use at most 120 characters."))],
        description=_l("Leave empty when the service covers the whole country."),
    )
    languages = SelectMultipleField(
        _l("Languages spoken"),
        validators=[Optional()],
        description=_l("Without an interpreter. Hold Ctrl (or Cmd) to choose more than one."),
    )
    target_groups = CheckboxListField(
        _l("Open only to"),
        validators=[Optional()],
        description=_l("Leave all unticked when the service is open to all."),
    )
    eligibility = TextAreaField(_l("Who is eligible"), validators=[Optional(), Length(max=5000, message=AT_MOST_5000)])
    opening_hours = StringField(
        _l("Opening hours"),
        validators=[Optional(), Length(max=300, message=_l("Use at most 300 characters."))],
        description=_l("For example: Monday to Friday 9:00-17:00"),
    )
    always_open = BooleanField(_l("Open 24 hours a day, 7 days a week"))
    phone = TelField(
        _l("Phone number"),
        validators=[Optional(), Length(max=40, message=_l("Use at most 40 characters."))],
        description=_l("In international form, like +33 1 23 45 67 89."),
        render_kw={"autocomplete": "off"},
    )
    email = EmailField(
        _l("E-mail address"),
        validators=[Optional(), Length(max=254, message=_l("Use at most 254 characters."))],
        render_kw={"spellcheck": "false"},
    )
    capacity_unit = StringField(
        _l("Unit of capacity (optional)"),
        validators=[Optional(), Length(max=40, message=_l("Use at most 40 characters."))],
        description=_l("What is counted, like beds. The service's own staff keep the numbers up to date."),
    )
    version = HiddenField()

    def set_choices(self, countries: list[tuple[str, str]], languages: list[tuple[str, str]]) -> None:
        self.service_type.choices = select_choices(service_type_choices())
        self.member_state_code.choices = select_choices(countries)
        self.languages.choices = select_choices(languages)
        self.target_groups.choices = select_choices((g.value, g.title) for g in TargetGroup)


class CapacityForm(FlaskForm):
    capacity_available = IntegerField(
        _l("Free places now"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric"},
    )
    capacity_maximum = IntegerField(
        _l("Places in all"),
        validators=[Optional()],
        description=_l("Leave both empty when capacity is not counted."),
        render_kw={"inputmode": "numeric"},
    )
    version = HiddenField(
        validators=[DataRequired(message=_l("This form has expired. Reload the page and try again."))]
    )


class ActiveForm(FlaskForm):
    """A POST-only button that switches an entry on or off (carries the CSRF token)."""

    active = HiddenField(validators=[AnyOf(["0", "1"], message=_l("Choose one."))])


class ImportForm(FlaskForm):
    file = FileField(
        _l("File to import"),
        validators=[FileRequired(message=_l("Choose a file to upload."))],
        description=_l("HSDS JSON (.json) or CSV (.csv) as exported from this page, in UTF-8."),
    )
