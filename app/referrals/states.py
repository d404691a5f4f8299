"""Referral lifecycle: the one transition table. Each row names the side that may make it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

from app.core.statemachine import Transition, TransitionTable
from app.referrals.policies import (
    is_cross_border_sender,
    is_domestic_sender,
    is_receiving_focal_point,
    is_recipient,
    is_sender,
    is_sending_focal_point,
    is_system,
)
from app.referrals.vocabulary import ReferralStatus, Side

S = ReferralStatus
DRAFT, SENT, ACKNOWLEDGED, ACCEPTED = S.DRAFT, S.SENT, S.ACKNOWLEDGED, S.ACCEPTED
IN_PROGRESS, COMPLETED, DECLINED, WITHDRAWN, EXPIRED, REOPENED = (
    S.IN_PROGRESS,
    S.COMPLETED,
    S.DECLINED,
    S.WITHDRAWN,
    S.EXPIRED,
    S.REOPENED,
)
FP_REVIEW, RETURNED, FP_ROUTING = S.FOCAL_POINT_REVIEW, S.RETURNED, S.FOCAL_POINT_ROUTING

SEND, WITHDRAW = _l("Send the referral"), _l("Withdraw the referral")
ACKNOWLEDGE, ACCEPT, DECLINE = _l("Acknowledge receipt"), _l("Accept"), _l("Decline")
START, COMPLETE, EXPIRE = _l("Start the service"), _l("Record the outcome and close"), _l("Expire")
REOPEN = _l("Reopen")
SUBMIT = _l("Send to the national focal point")
RESUBMIT = _l("Send to the national focal point again")
FORWARD = _l("Send to the other country's focal point")
APPROVE, RETURN = _l("Approve and send to the other country"), _l("Return to the sender")
ROUTE = _l("Route to the service")

REFERRAL_TRANSITIONS: TransitionTable[ReferralStatus] = TransitionTable(
    "referral",
    [
        Transition(DRAFT, "send", SENT, SEND, is_domestic_sender),
        # Cross-border: sender -> sending focal point -> receiving focal point -> service.
        # A focal point that makes one forwards it itself.
        Transition(DRAFT, "submit", FP_REVIEW, SUBMIT, is_cross_border_sender),
        Transition(RETURNED, "submit", FP_REVIEW, SUBMIT, is_cross_border_sender),
        Transition(DRAFT, "forward", FP_ROUTING, FORWARD, is_sending_focal_point),
        Transition(RETURNED, "forward", FP_ROUTING, FORWARD, is_sending_focal_point),
        Transition(FP_REVIEW, "approve", FP_ROUTING, APPROVE, is_sending_focal_point),
        Transition(FP_REVIEW, "return", RETURNED, RETURN, is_sending_focal_point),
        Transition(FP_ROUTING, "route", SENT, ROUTE, is_receiving_focal_point),
        Transition(FP_ROUTING, "decline", DECLINED, DECLINE, is_receiving_focal_point),
        Transition(FP_REVIEW, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(RETURNED, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(FP_ROUTING, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(FP_REVIEW, "expire", EXPIRED, EXPIRE, is_system),
        Transition(FP_ROUTING, "expire", EXPIRED, EXPIRE, is_system),
        Transition(DECLINED, "resubmit", FP_REVIEW, RESUBMIT, is_cross_border_sender),
        Transition(EXPIRED, "resubmit", FP_REVIEW, RESUBMIT, is_cross_border_sender),
        Transition(WITHDRAWN, "resubmit", FP_REVIEW, RESUBMIT, is_cross_border_sender),
        Transition(DECLINED, "forward", FP_ROUTING, FORWARD, is_sending_focal_point),
        Transition(EXPIRED, "forward", FP_ROUTING, FORWARD, is_sending_focal_point),
        Transition(WITHDRAWN, "forward", FP_ROUTING, FORWARD, is_sending_focal_point),
        Transition(DRAFT, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(SENT, "acknowledge", ACKNOWLEDGED, ACKNOWLEDGE, is_recipient),
        Transition(REOPENED, "acknowledge", ACKNOWLEDGED, ACKNOWLEDGE, is_recipient),
        Transition(SENT, "accept", ACCEPTED, ACCEPT, is_recipient),
        Transition(ACKNOWLEDGED, "accept", ACCEPTED, ACCEPT, is_recipient),
        Transition(REOPENED, "accept", ACCEPTED, ACCEPT, is_recipient),
        Transition(SENT, "decline", DECLINED, DECLINE, is_recipient),
        Transition(ACKNOWLEDGED, "decline", DECLINED, DECLINE, is_recipient),
        Transition(REOPENED, "decline", DECLINED, DECLINE, is_recipient),
        Transition(ACCEPTED, "start", IN_PROGRESS, START, is_recipient),
        Transition(ACCEPTED, "complete", COMPLETED, COMPLETE, is_recipient),
        Transition(IN_PROGRESS, "complete", COMPLETED, COMPLETE, is_recipient),
        Transition(SENT, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(ACKNOWLEDGED, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(REOPENED, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(ACCEPTED, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(IN_PROGRESS, "withdraw", WITHDRAWN, WITHDRAW, is_sender),
        Transition(SENT, "expire", EXPIRED, EXPIRE, is_system),
        Transition(ACKNOWLEDGED, "expire", EXPIRED, EXPIRE, is_system),
        Transition(REOPENED, "expire", EXPIRED, EXPIRE, is_system),
        # The sender asks the same service again (a new deadline); the recipient reopens
        # a completed referral when the person needs more of the service.
        Transition(DECLINED, "reopen", REOPENED, REOPEN, is_domestic_sender),
        Transition(EXPIRED, "reopen", REOPENED, REOPEN, is_domestic_sender),
        Transition(WITHDRAWN, "reopen", REOPENED, REOPEN, is_domestic_sender),
        Transition(COMPLETED, "reopen", REOPENED, REOPEN, is_recipient),
    ],
)

SIDE_OF_GUARD: dict[Callable[[Any, Any], bool], Side] = {
    is_sender: Side.SENDER,
    is_domestic_sender: Side.SENDER,
    is_cross_border_sender: Side.SENDER,
    is_sending_focal_point: Side.SENDING_FOCAL_POINT,
    is_receiving_focal_point: Side.RECEIVING_FOCAL_POINT,
    is_recipient: Side.RECIPIENT,
    is_system: Side.SYSTEM,
}
