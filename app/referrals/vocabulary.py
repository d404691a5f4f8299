"""Closed vocabularies of referrals, with translated titles."""

from __future__ import annotations

import enum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class ReferralStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    REOPENED = "reopened"
    # Cross-border stages, before the service (issue 5): the sending country's focal point
    # approves or returns to the sender; the receiving country's routes to a local service.
    FOCAL_POINT_REVIEW = "focal_point_review"
    RETURNED = "returned"
    FOCAL_POINT_ROUTING = "focal_point_routing"

    @property
    def title(self) -> LazyString:
        return STATUS_TITLES[self]


STATUS_TITLES = {
    ReferralStatus.DRAFT: _l("Draft"),
    ReferralStatus.SENT: _l("Sent"),
    ReferralStatus.ACKNOWLEDGED: _l("Acknowledged"),
    ReferralStatus.ACCEPTED: _l("Accepted"),
    ReferralStatus.IN_PROGRESS: _l("In progress"),
    ReferralStatus.COMPLETED: _l("Completed"),
    ReferralStatus.DECLINED: _l("Declined"),
    ReferralStatus.WITHDRAWN: _l("Withdrawn"),
    ReferralStatus.EXPIRED: _l("Expired"),
    ReferralStatus.REOPENED: _l("Reopened"),
    ReferralStatus.FOCAL_POINT_REVIEW: _l("At the sending focal point"),
    ReferralStatus.RETURNED: _l("Returned to the sender"),
    ReferralStatus.FOCAL_POINT_ROUTING: _l("At the receiving focal point"),
}

# Waiting for the recipient's decision: the response deadline runs.
AWAITING_DECISION = (ReferralStatus.SENT, ReferralStatus.ACKNOWLEDGED, ReferralStatus.REOPENED)
# Waiting for a focal point: that stage's deadline runs.
AT_FOCAL_POINT = (ReferralStatus.FOCAL_POINT_REVIEW, ReferralStatus.FOCAL_POINT_ROUTING)
# Every status whose deadline the deadline job watches.
DEADLINE_RUNNING = (*AWAITING_DECISION, *AT_FOCAL_POINT)
# Open: at most one per case and service.
OPEN_STATUSES = (
    *DEADLINE_RUNNING,
    ReferralStatus.DRAFT,
    ReferralStatus.RETURNED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
)
# Ended: the recipient keeps access for the grace period only.
ENDED_STATUSES = (
    ReferralStatus.COMPLETED,
    ReferralStatus.DECLINED,
    ReferralStatus.WITHDRAWN,
    ReferralStatus.EXPIRED,
)


class Urgency(enum.StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def title(self) -> LazyString:
        return URGENCY_TITLES[self]


URGENCY_TITLES = {
    Urgency.EMERGENCY: _l("Emergency"),
    Urgency.URGENT: _l("Urgent"),
    Urgency.ROUTINE: _l("Routine"),
}


class DeclineReason(enum.StrEnum):
    NO_CAPACITY = "no_capacity"
    NOT_ELIGIBLE = "not_eligible"
    PERSON_DECLINED = "person_declined"
    NOT_REACHABLE = "not_reachable"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return DECLINE_REASON_TITLES[self]


DECLINE_REASON_TITLES = {
    DeclineReason.NO_CAPACITY: _l("No capacity"),
    DeclineReason.NOT_ELIGIBLE: _l("Not eligible for this service"),
    DeclineReason.PERSON_DECLINED: _l("The person declined"),
    DeclineReason.NOT_REACHABLE: _l("Could not reach the person"),
    DeclineReason.OTHER: _l("Other reason"),
}


class Outcome(enum.StrEnum):
    GOT_HELP = "got_help"
    NOT_CONTACTED = "not_contacted"
    PERSON_DECLINED = "person_declined"
    OTHER = "other"

    @property
    def title(self) -> LazyString:
        return OUTCOME_TITLES[self]


OUTCOME_TITLES = {
    Outcome.GOT_HELP: _l("The person got help"),
    Outcome.NOT_CONTACTED: _l("The person could not be contacted"),
    Outcome.PERSON_DECLINED: _l("The person declined"),
    Outcome.OTHER: _l("Other outcome"),
}


class SharedPart(enum.StrEnum):
    """Parts of a case the sender may share with the recipient. Risk is always shared."""

    PROFILE = "profile"  # sex, age or age group, languages, citizenship
    NEEDS = "needs"  # immediate needs
    IDENTITY = "identity"  # names, aliases, date of birth
    CONTACT = "contact"  # contact details
    DOCUMENT = "document"  # identity document seen
    ASSESSMENT = "assessment"  # forms of exploitation, indicators and the explained assessment
    NOTES = "notes"  # notes marked as shareable

    @property
    def title(self) -> LazyString:
        return SHARED_PART_TITLES[self]


SHARED_PART_TITLES = {
    SharedPart.PROFILE: _l("Profile: sex, age, languages, citizenship"),
    SharedPart.NEEDS: _l("Immediate needs"),
    SharedPart.IDENTITY: _l("Identity: names, aliases, date of birth"),
    SharedPart.CONTACT: _l("Contact details"),
    SharedPart.DOCUMENT: _l("Identity document seen"),
    SharedPart.ASSESSMENT: _l("Forms of exploitation, indicators and assessment"),
    SharedPart.NOTES: _l("Notes marked as shareable"),
}

MINIMUM_SHARED = (SharedPart.PROFILE, SharedPart.NEEDS)


class LegalBasis(enum.StrEnum):
    """Why the referral may be made."""

    CONSENT = "consent"
    CHILD_PROTECTION = "child_protection"  # a child referred to child protection
    VITAL_INTEREST = "vital_interest"  # documented exception, by a role allowed to make it

    @property
    def title(self) -> LazyString:
        return LEGAL_BASIS_TITLES[self]


LEGAL_BASIS_TITLES = {
    LegalBasis.CONSENT: _l("The person's consent (or their guardian's)"),
    LegalBasis.CHILD_PROTECTION: _l("A child referred to child protection"),
    LegalBasis.VITAL_INTEREST: _l("Vital interest: life or safety at immediate risk"),
}


class Side(enum.StrEnum):
    SENDER = "sender"
    RECIPIENT = "recipient"
    SYSTEM = "system"
    SENDING_FOCAL_POINT = "sending_fp"  # the focal point of the sender's country
    RECEIVING_FOCAL_POINT = "receiving_fp"  # the focal point of the service's country


# In pseudonymised mode only these parts may travel (the profile reduced to year of birth,
# sex and citizenship); identity is released on request.
PSEUDONYMISED_PARTS = (SharedPart.PROFILE, SharedPart.NEEDS, SharedPart.ASSESSMENT)


class IdentityDecision(enum.StrEnum):
    """The sender's answer to the receiving side's request for identification details."""

    RELEASED = "released"
    REFUSED = "refused"

    @property
    def title(self) -> LazyString:
        return IDENTITY_DECISION_TITLES[self]


IDENTITY_DECISION_TITLES = {
    IdentityDecision.RELEASED: _l("Identification details released"),
    IdentityDecision.REFUSED: _l("Identification details not released"),
}
