"""Forms of the identification area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField


class CatalogueUploadForm(FlaskForm):
    file = FileField(
        _l("Catalogue file (YAML)"),
        validators=[FileRequired(message=_l("Choose a catalogue file."))],
        description=_l("The format is described in docs/CATALOGUE.md. A file with any problem is refused whole."),
    )
    submit = SubmitField(_l("Check and load"))
