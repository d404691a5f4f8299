"""Referral lifecycle: the one transition table. Each row names the side that may make it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

from app.core.statemachine import Transition, TransitionTable
from app.referrals.policies import is_recipient, is_sender, is_system
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

SEND, WITHDRAW = _l("Send the referral"), _l("Withdraw the referral")
ACKNOWLEDGE, ACCEPT, DECLINE = _l("Acknowledge receipt"), _l("Accept"), _l("Decline")
START, COMPLETE, EXPIRE = _l("Start the service"), _l("Record the outcome and close"), _l("Expire")
REOPEN = _l("Reopen")

REFERRAL_TRANSITIONS: TransitionTable[ReferralStatus] = TransitionTable(
    "referral",
    [
        Transition(DRAFT, "send", SENT, SEND, is_sender),
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
        Transition(DECLINED, "reopen", REOPENED, REOPEN, is_sender),
        Transition(EXPIRED, "reopen", REOPENED, REOPEN, is_sender),
        Transition(WITHDRAWN, "reopen", REOPENED, REOPEN, is_sender),
        Transition(COMPLETED, "reopen", REOPENED, REOPEN, is_recipient),
    ],
)

SIDE_OF_GUARD: dict[Callable[[Any, Any], bool], Side] = {
    is_sender: Side.SENDER,
    is_recipient: Side.RECIPIENT,
    is_system: Side.SYSTEM,
}
