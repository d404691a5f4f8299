"""Glue between service errors and WTForms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm


def attach_field_error(form: FlaskForm, field: str, message: Any) -> None:
    """Show a service's field error next to the field (or above the form if unknown)."""
    target = getattr(form, field, None)
    if target is None:
        form.form_errors.append(message)
        return
    target.errors = [*list(target.errors or []), message]
