"""Cases: reading (every list and view is recorded in the audit trail) and status changes."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import MemberState, User
from app.accounts.services import FieldError
from app.audit.services import field_changes, record
from app.cases.deadlines import ClockRule, ClockStatus, status
from app.cases.models import Case, CaseEvent
from app.cases.policies import active_grant, in_ordinary_scope, reachable_cases_filter, visible_cases_filter
from app.cases.states import CASE_TRANSITIONS
from app.cases.vocabulary import CaseStatus, CloseReason
from app.core.errors import Conflict, NotFound
from app.core.statemachine import apply_transition
from app.extensions import db
from app.identification.models import IdentificationRecord, RecordStatus

MY_CASES_LIMIT = 200


def my_cases(actor: User) -> list[Case]:
    """Active cases the actor may see: highest assessment level, then newest.

    The order matches the (agency | country, level, opened_at) indexes, so the page reads
    MY_CASES_LIMIT index entries however many cases the agency has; the view then puts
    overdue clocks and tasks first among them.
    """
    rows = list(
        db.session.execute(
            select(Case)
            .options(joinedload(Case.owner_agency))
            .where(visible_cases_filter(actor), Case.status != CaseStatus.CLOSED)
            .order_by(Case.level.desc(), Case.opened_at.desc())
            .limit(MY_CASES_LIMIT)
        ).scalars()
    )
    record("case.list_viewed", actor=actor, object_type="case", details={"shown": [c.id for c in rows]})
    return rows


def visible_case(actor: User, case_id: str) -> Case:
    """A case in the actor's ordinary scope: the pages that act on it. Emergency access
    opens only the case page (``view_case``)."""
    case = db.session.execute(select(Case).where(Case.id == case_id, visible_cases_filter(actor))).scalar_one_or_none()
    if case is None:
        raise NotFound()
    return case


def view_case(actor: User, case_id: str) -> tuple[Case, list[IdentificationRecord], list[CaseEvent]]:
    case = db.session.execute(
        select(Case)
        .options(joinedload(Case.person), joinedload(Case.owner_agency), joinedload(Case.assigned_user))
        .where(Case.id == case_id, reachable_cases_filter(actor))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound()
    identifications = list(
        db.session.execute(
            select(IdentificationRecord)
            .options(joinedload(IdentificationRecord.officer))
            .where(IdentificationRecord.case_id == case.id, IdentificationRecord.status == RecordStatus.SUBMITTED)
            .order_by(IdentificationRecord.submitted_at)
        ).scalars()
    )
    events = list(
        db.session.execute(
            select(CaseEvent)
            .options(joinedload(CaseEvent.actor))
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.at)
        ).scalars()
    )
    details: dict[str, Any] = {"person": case.person_id, "identifications": [i.id for i in identifications]}
    if not in_ordinary_scope(actor, case):
        grant = active_grant(actor, case.id)
        details["break_glass"] = grant.id if grant is not None else None
    record("case.viewed", actor=actor, object_type="case", object_id=case.id, details=details)
    return case, identifications, events


def content_of(row: IdentificationRecord) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(row.content or "{}")
    return loaded


def change_status(actor: User, case: Case, action: str, *, reason: str, version: int) -> None:
    """Move a case through its transition table; closing needs one of the set reasons."""
    if case.version != version:
        raise Conflict()
    transition = CASE_TRANSITIONS.find(case.status, action)
    closing = transition is not None and transition.target == CaseStatus.CLOSED
    if closing and reason not in {r.value for r in CloseReason}:
        raise FieldError("reason", _l("Say why the case is closed."))
    before = {"closed_reason": case.closed_reason}
    case.closed_reason = reason if closing else None  # set first: the CHECK constraint sees both at flush
    details: dict[str, Any] = {"reason": reason} if closing else {}
    details["changes"] = field_changes(before, {"closed_reason": case.closed_reason})
    apply_transition(CASE_TRANSITIONS, case, action, actor=actor, details=details)
    db.session.add(
        CaseEvent(
            case_id=case.id, actor_id=actor.id, kind=f"case.{action}", details={"reason": reason} if closing else {}
        )
    )
    db.session.flush()


ACTIVE_STATUSES = (CaseStatus.OPEN, CaseStatus.ASSISTING, CaseStatus.REOPENED)


def clocks(case: Case, state: MemberState, today: date) -> list[ClockStatus]:
    """The legal clocks of a case that is still active, from the reasonable-grounds day."""
    if case.reasonable_grounds_on is None or case.status not in ACTIVE_STATUSES:
        return []
    rules = (
        ClockRule("reasonable_grounds_decision", state.decision_working_days, "working_days"),
        ClockRule("reflection_period", state.reflection_period_days, "calendar_days"),
    )
    return [status(rule, case.reasonable_grounds_on, today, state.code, state.holiday_subdivision) for rule in rules]


def with_clocks(cases: list[Case], today: date) -> list[tuple[Case, list[ClockStatus], date | None]]:
    """Cases with their clocks and next task, overdue first, then the nearest deadline, then the rest."""
    from app.cases.work import earliest_open_task

    states = {
        s.code: s
        for s in db.session.execute(
            select(MemberState).where(MemberState.code.in_({c.member_state_code for c in cases}))
        ).scalars()
    }
    next_task = earliest_open_task([c.id for c in cases])
    rows = [(case, clocks(case, states[case.member_state_code], today), next_task.get(case.id)) for case in cases]

    def urgency(item: tuple[Case, list[ClockStatus], date | None]) -> tuple[int, int]:
        pending = [c.days_left for c in item[1]]
        if item[2] is not None:
            pending.append((item[2] - today).days)
        return (0 if any(d < 0 for d in pending) else 1, min(pending) if pending else 10**6)

    return sorted(rows, key=urgency)
