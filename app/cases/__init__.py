"""Cases: persons (encrypted identifying data), cases, timeline, notes, tasks and legal clocks.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

IDENTIFY = Permission("cases.identify", _l("Record identifications of presumed victims"))
VIEW_CASES = Permission("cases.view", _l("See the cases of one's agency or country"))

RESOLVE_DUPLICATES = Permission("cases.resolve_duplicates", _l("Link or dismiss possible duplicate cases"))

declare(IDENTIFY, VIEW_CASES, RESOLVE_DUPLICATES)
