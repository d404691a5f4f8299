"""Case status: the one transition table."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.accounts.roles import Role
from app.cases.policies import in_ordinary_scope
from app.cases.vocabulary import CaseStatus
from app.core.statemachine import Transition, TransitionTable


def case_worker(actor: Any, case: Any) -> bool:
    """Staff who see the case and work on it: its agency's frontline staff, the country's focal point."""
    return actor.role in (Role.FRONTLINE, Role.FOCAL_POINT) and in_ordinary_scope(actor, case)


OPEN, ASSISTING, CLOSED, REOPENED = CaseStatus.OPEN, CaseStatus.ASSISTING, CaseStatus.CLOSED, CaseStatus.REOPENED

CASE_TRANSITIONS: TransitionTable[CaseStatus] = TransitionTable(
    "case",
    [
        Transition(OPEN, "start_assistance", ASSISTING, _l("Assistance has started"), case_worker),
        Transition(REOPENED, "start_assistance", ASSISTING, _l("Assistance has started"), case_worker),
        Transition(OPEN, "close", CLOSED, _l("Close the case"), case_worker),
        Transition(ASSISTING, "close", CLOSED, _l("Close the case"), case_worker),
        Transition(REOPENED, "close", CLOSED, _l("Close the case"), case_worker),
        Transition(CLOSED, "reopen", REOPENED, _l("Reopen the case"), case_worker),
    ],
)
