"""Append-only, hash-chained audit trail with signed checkpoints, the supervisor's review
tools and break-glass access.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

VIEW_AUDIT = Permission("audit.view", _l("Review the audit trail of one's country: who saw and changed what"))
EXPORT_AUDIT = Permission("audit.export", _l("Export a filtered audit trail with its signed checkpoint"))
REVIEW_BREAK_GLASS = Permission("audit.review_break_glass", _l("Review emergency (break-glass) access to cases"))

declare(VIEW_AUDIT, EXPORT_AUDIT, REVIEW_BREAK_GLASS)
