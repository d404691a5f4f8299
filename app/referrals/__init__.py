"""Referrals: from a case to a service, with deadlines, a closed loop and notifications.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

MAKE_REFERRALS = Permission("referrals.make", _l("Refer persons from visible cases to assistance services"))
RECEIVE_REFERRALS = Permission("referrals.receive", _l("Receive and answer referrals sent to one's organisation"))
VITAL_INTEREST = Permission(
    "referrals.vital_interest", _l("Refer without consent, documenting a vital-interest exception")
)

# Opening one referral's page: the policies decide which side the user is on, if any.
VIEW_REFERRALS = Permission("referrals.view", _l("Open the referrals one sends or receives"))

# National focal points: approve outgoing and route incoming cross-border referrals (issue 5).
CROSS_BORDER_DESK = Permission(
    "referrals.cross_border_desk", _l("Approve, route and follow the country's cross-border referrals")
)

declare(MAKE_REFERRALS, RECEIVE_REFERRALS, VITAL_INTEREST, VIEW_REFERRALS, CROSS_BORDER_DESK)
