"""Glue between service errors and WTForms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget


def attach_field_error(form: FlaskForm, field: str, message: Any) -> None:
    """Show a service's field error next to the field (or above the form if unknown)."""
    target = getattr(form, field, None)
    if target is None:
        form.form_errors.append(message)
        return
    target.errors = [*list(target.errors or []), message]


def form_version(form: FlaskForm) -> int:
    """The record version a form was shown with; anything but digits is a stale form (-1:
    the optimistic check refuses it with a 409 instead of a 500)."""
    value = str(form.version.data or "")
    return int(value) if value.isdigit() else -1


def select_choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class CheckboxListField(SelectMultipleField):  # type: ignore[misc]
    """A multiple choice shown as a list of checkboxes (easier on a phone than a multi-select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
