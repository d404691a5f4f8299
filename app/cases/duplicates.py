"""Possible duplicates: found by blind index on submission, decided by the focal point.

The frontline user learns only that a possible match went to the focal point; nothing
about the other case. The focal point sees both and links or dismisses them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.roles import Role
from app.audit.services import field_changes, record
from app.cases.models import Case, CaseEvent, DuplicateStatus, Person, PossibleDuplicate
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.extensions import db


def flag_possible_duplicates(actor: User, case: Case, person: Person) -> int:
    """Compare the new person with earlier ones of the same country; returns how many matched."""
    matches: list[tuple[str, str]] = []  # (other case, what matched); one indexed lookup per blind index
    for column, value, on in (
        (Person.document_index, person.document_index, "document"),
        (Person.name_index, person.name_index, "name"),
    ):
        if not value:
            continue
        for other_id in db.session.execute(
            select(Case.id)
            .join(Person, Person.id == Case.person_id)
            .where(column == value, Case.member_state_code == case.member_state_code, Case.id != case.id)
        ).scalars():
            if other_id not in {m[0] for m in matches}:
                matches.append((other_id, on))
    for other_id, on in matches:
        db.session.add(
            PossibleDuplicate(
                member_state_code=case.member_state_code, case_id=case.id, other_case_id=other_id, matched_on=on
            )
        )
    if matches:
        db.session.flush()
        record(
            "duplicate.flagged", actor=actor, object_type="case", object_id=case.id, details={"matches": len(matches)}
        )
    return len(matches)


def open_duplicates(actor: User) -> list[PossibleDuplicate]:
    if actor.role != Role.FOCAL_POINT:
        raise PermissionDenied()
    rows = list(
        db.session.execute(
            select(PossibleDuplicate)
            .options(joinedload(PossibleDuplicate.case), joinedload(PossibleDuplicate.other_case))
            .where(
                PossibleDuplicate.member_state_code == actor.agency.member_state_code,
                PossibleDuplicate.status == DuplicateStatus.OPEN,
            )
            .order_by(PossibleDuplicate.created_at)
        ).scalars()
    )
    record(
        "duplicate.list_viewed",
        actor=actor,
        object_type="case",
        details={"shown": [[d.case_id, d.other_case_id] for d in rows]},
    )
    return rows


def decide(actor: User, duplicate_id: int, *, same_person: bool) -> PossibleDuplicate:
    row = db.session.get(PossibleDuplicate, duplicate_id)
    if row is None or actor.role != Role.FOCAL_POINT or row.member_state_code != actor.agency.member_state_code:
        raise NotFound()
    if row.status != DuplicateStatus.OPEN:
        raise Conflict()
    before = {"status": row.status, "decided_by_id": row.decided_by_id}
    row.status = DuplicateStatus.LINKED if same_person else DuplicateStatus.DISMISSED
    row.decided_by_id, row.decided_at = actor.id, utcnow()
    if same_person:
        for case_id, other_id in ((row.case_id, row.other_case_id), (row.other_case_id, row.case_id)):
            db.session.add(
                CaseEvent(case_id=case_id, actor_id=actor.id, kind="case.linked", details={"other_case": other_id})
            )
    db.session.flush()
    record(
        "duplicate.linked" if same_person else "duplicate.dismissed",
        actor=actor,
        object_type="possible_duplicate",
        object_id=row.id,
        details={
            "case": row.case_id,
            "other_case": row.other_case_id,
            "changes": field_changes(before, {"status": row.status, "decided_by_id": row.decided_by_id}),
        },
    )
    return row
