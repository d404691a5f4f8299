"""Notification kinds with their translated texts. No text carries personal data."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

NOTIFICATION_TITLES = {
    "referral.received": _l("A new referral is waiting for your answer"),
    "referral.acknowledge": _l("Your referral was acknowledged"),
    "referral.accept": _l("Your referral was accepted"),
    "referral.decline": _l("Your referral was declined"),
    "referral.start": _l("The service has started for your referral"),
    "referral.complete": _l("Your referral was completed"),
    "referral.reopened": _l("A completed referral was reopened by the service"),
    "referral.withdrawn": _l("A referral to your organisation was withdrawn"),
    "referral.due_soon": _l("A referral's response deadline is approaching"),
    "referral.expired": _l("A referral expired without an answer"),
    "referral.escalated": _l("Escalation: a referral from your agency expired without an answer"),
    "referral.for_review": _l("A referral to another country waits for your approval"),
    "referral.approved": _l("Your referral was approved by the national focal point"),
    "referral.returned": _l("Your referral was returned by the national focal point"),
    "referral.for_routing": _l("A referral from another country waits for routing"),
    "referral.routed": _l("Your referral was routed to a service in the other country"),
    "referral.identity_requested": _l("The receiving side asks for the identification details of a referral"),
    "referral.identity_released": _l("Identification details of a referral were released"),
    "referral.identity_refused": _l("Identification details of a referral were not released"),
    "break_glass.used": _l("Someone was given emergency access to a case of your agency"),
    "break_glass.review": _l("An emergency access to a case waits for your review"),
}
