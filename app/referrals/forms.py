"""Referral forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.core.forms import CheckboxListField, select_choices
from app.directory.vocabulary import SERVICE_TYPE_TITLES
from app.referrals.vocabulary import (
    DECLINE_REASON_TITLES,
    LEGAL_BASIS_TITLES,
    MINIMUM_SHARED,
    OUTCOME_TITLES,
    SHARED_PART_TITLES,
    URGENCY_TITLES,
    Urgency,
)


class ReferralForm(FlaskForm):
    service_id = RadioField(
        _l("Service"), validators=[InputRequired(message=_l("Choose a service from the suggestions."))]
    )
    purpose = TextAreaField(
        _l("What the person needs from this service"),
        validators=[
            InputRequired(message=_l("Say what the person needs from this service.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
    )
    urgency = RadioField(
        _l("Urgency"),
        choices=select_choices((u.value, t) for u, t in URGENCY_TITLES.items()),
        default=Urgency.URGENT.value,
        validators=[InputRequired(message=_l("Choose how urgent it is."))],
    )
    shared_parts = CheckboxListField(
        _l("What the service will see"),
        choices=select_choices((p.value, t) for p, t in SHARED_PART_TITLES.items()),
        default=[p.value for p in MINIMUM_SHARED],
        description=_l("The risk from traffickers is always shared, for the safety of the person and the staff."),
    )
    legal_basis = RadioField(
        _l("Legal basis"),
        choices=select_choices((b.value, t) for b, t in LEGAL_BASIS_TITLES.items()),
        default="consent",
        validators=[InputRequired(message=_l("Choose the legal basis."))],
    )
    justification = TextAreaField(
        _l("Why the person's life or safety cannot wait for consent"),
        validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))],
    )
    pseudonymised = BooleanField(
        _l("Pseudonymised: the other country sees no name"),
        description=_l(
            "Only the case reference, year of birth, sex and citizenship of the person travel, with the needs, "
            "the assessment and the risk. The other side can ask for the identification details; you decide."
        ),
    )


class PeerReferralForm(ReferralForm):
    """To a country served by a peer installation: the kind of service; its focal point
    chooses the service there."""

    service_id = None
    service_type = SelectField(
        _l("Kind of service"),
        choices=select_choices(
            [("", _l("Choose the kind of service")), *((t.value, title) for t, title in SERVICE_TYPE_TITLES.items())]
        ),
        validators=[InputRequired(message=_l("Choose the kind of service the person needs."))],
    )


class TransitionForm(FlaskForm):
    version = HiddenField()


class DeclineForm(TransitionForm):
    decline_reason = SelectField(
        _l("Reason"),
        choices=select_choices(
            [("", _l("Choose a reason")), *((r.value, t) for r, t in DECLINE_REASON_TITLES.items())]
        ),
        validators=[InputRequired(message=_l("Choose why the referral is declined."))],
    )
    note = TextAreaField(
        _l("Note for the sender"), validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))]
    )


class CompleteForm(TransitionForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=select_choices([("", _l("Choose the outcome")), *((o.value, t) for o, t in OUTCOME_TITLES.items())]),
        validators=[InputRequired(message=_l("Choose the outcome."))],
    )
    services_delivered = TextAreaField(
        _l("Services delivered"),
        validators=[Optional(), Length(max=2000, message=_l("Use at most 2000 characters."))],
    )


class ReturnForm(TransitionForm):
    note = TextAreaField(
        _l("What the sender should change"),
        validators=[
            InputRequired(message=_l("Say what the sender should change.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
    )


class RouteForm(TransitionForm):
    service_id = SelectField(
        _l("Service in your country"),
        validators=[InputRequired(message=_l("Choose a service in your country."))],
    )


class IdentityRequestForm(TransitionForm):
    reason = TextAreaField(
        _l("Why the identification details are needed"),
        validators=[
            InputRequired(message=_l("Say why the service needs the person's identification details.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
    )
