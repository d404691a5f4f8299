"""Accounts: Member States, agencies, users, sign-in, two-factor, sessions.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

SELF_SERVICE = Permission("accounts.self_service", _l("Manage your own password, language, two-factor and sessions"))
MANAGE_USERS = Permission("accounts.manage_users", _l("Manage user accounts"))
MANAGE_AGENCIES = Permission("accounts.manage_agencies", _l("Manage agencies"))
MANAGE_MEMBER_STATES = Permission("accounts.manage_member_states", _l("Manage Member State settings"))
VIEW_DIRECTORY_OF_AGENCIES = Permission("accounts.view_agencies", _l("See the list of agencies"))

declare(SELF_SERVICE, MANAGE_USERS, MANAGE_AGENCIES, MANAGE_MEMBER_STATES, VIEW_DIRECTORY_OF_AGENCIES)
