"""Cases: persons (encrypted identifying data), cases, timeline, notes, tasks and legal clocks.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

IDENTIFY = Permission("cases.identify", _l("Record identifications of presumed victims"))
VIEW_CASES = Permission("cases.view", _l("See the cases of one's agency or country"))

RESOLVE_DUPLICATES = Permission("cases.resolve_duplicates", _l("Link or dismiss possible duplicate cases"))

# Emergency access to a case outside one's scope, on a written justification, reviewed later.
BREAK_GLASS = Permission("cases.break_glass", _l("Ask for emergency access to a case one may not otherwise see"))

declare(IDENTIFY, VIEW_CASES, RESOLVE_DUPLICATES, BREAK_GLASS)
