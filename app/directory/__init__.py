"""Service directory: assistance organisations and their services, aligned with Open Referral HSDS 3.x.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

VIEW_DIRECTORY = Permission("directory.view", _l("Search the directory of assistance services"))
MANAGE_DIRECTORY = Permission("directory.manage", _l("Add and edit organisations and services, import and export"))
UPDATE_CAPACITY = Permission("directory.update_capacity", _l("Keep the live capacity of one's own services"))

declare(VIEW_DIRECTORY, MANAGE_DIRECTORY, UPDATE_CAPACITY)
