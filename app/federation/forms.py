"""Trust-list forms (system administrators)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length


class PeerForm(FlaskForm):
    base_url = StringField(
        _l("Address of the installation"),
        validators=[
            InputRequired(message=_l("Enter the installation's address: https://..., at most 200 characters.")),
            Length(max=200, message=_l("Enter the installation's address: https://..., at most 200 characters.")),
        ],
    )
    country = SelectField(_l("Country"), validators=[InputRequired(message=_l("Choose an EU Member State."))])


class KeyForm(FlaskForm):
    peer = SelectField(
        _l("Installation"), coerce=int, validators=[InputRequired(message=_l("Choose an installation."))]
    )
    jwk = TextAreaField(
        _l("Public key (JWK)"),
        validators=[
            InputRequired(message=_l("Paste the peer's public key in JWK (JSON) form.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
    )


class ActionForm(FlaskForm):
    """A button's form: its CSRF token only."""
