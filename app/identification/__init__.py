"""Early identification: the indicator catalogue (data files), screening records and the
explained assessment. Assessment is decision support, never a legal determination.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

VIEW_CATALOGUE = Permission("identification.view_catalogue", _l("Consult the indicators of trafficking"))
MANAGE_CATALOGUE = Permission("identification.manage_catalogue", _l("Load a national indicator catalogue"))

declare(VIEW_CATALOGUE, MANAGE_CATALOGUE)
