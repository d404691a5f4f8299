"""Append-only, hash-chained audit trail."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

VIEW_AUDIT = Permission("audit.view", _l("Review the audit trail"))

declare(VIEW_AUDIT)
