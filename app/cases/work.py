"""Notes and tasks on a case. Texts are encrypted; only staff who work on the case write them."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.services import FieldError
from app.audit.services import field_changes, record
from app.cases.models import Case, CaseEvent, CaseNote, CaseTask, NoteVisibility
from app.cases.states import case_worker
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PermissionDenied
from app.extensions import db

MAX_NOTE = 4000
MAX_TASK = 200


def add_note(actor: User, case: Case, text: str, visibility: NoteVisibility) -> CaseNote:
    if not case_worker(actor, case):
        raise PermissionDenied()
    text = text.strip()
    if not text:
        raise FieldError("text", _l("Write the note."))
    if len(text) > MAX_NOTE:
        raise FieldError("text", _l("Use at most %(count)s characters.", count=MAX_NOTE))
    note = CaseNote(case_id=case.id, author_id=actor.id, visibility=visibility, language=actor.preferred_language)
    note.text = text
    db.session.add(note)
    db.session.add(
        CaseEvent(case_id=case.id, actor_id=actor.id, kind="note.added", details={"visibility": visibility.value})
    )
    db.session.flush()
    record("note.added", actor=actor, object_type="case_note", object_id=note.id, details={"case": case.id})
    return note


def add_task(actor: User, case: Case, title: str, due_on: date) -> CaseTask:
    if not case_worker(actor, case):
        raise PermissionDenied()
    title = title.strip()
    if not title:
        raise FieldError("title", _l("Say what needs doing."))
    if len(title) > MAX_TASK:
        raise FieldError("title", _l("Use at most %(count)s characters.", count=MAX_TASK))
    if due_on < utcnow().date():
        raise FieldError("due_on", _l("The due date cannot be in the past."))
    task = CaseTask(case_id=case.id, created_by_id=actor.id, due_on=due_on)
    task.title = title
    db.session.add(task)
    db.session.add(
        CaseEvent(case_id=case.id, actor_id=actor.id, kind="task.added", details={"due_on": due_on.isoformat()})
    )
    db.session.flush()
    record("task.added", actor=actor, object_type="case_task", object_id=task.id, details={"case": case.id})
    return task


def complete_task(actor: User, case: Case, task_id: str) -> None:
    task = db.session.get(CaseTask, task_id)
    if task is None or task.case_id != case.id:
        raise NotFound()
    if not case_worker(actor, case):
        raise PermissionDenied()
    if task.done_at is not None:
        raise Conflict(_l("This task is already done."))
    task.done_at = utcnow()
    db.session.add(CaseEvent(case_id=case.id, actor_id=actor.id, kind="task.done"))
    db.session.flush()
    record(
        "task.done",
        actor=actor,
        object_type="case_task",
        object_id=task.id,
        details={
            "case": case.id,
            "changes": field_changes({"done_at": None}, {"done_at": task.done_at.isoformat(timespec="seconds")}),
        },
    )


def notes_and_tasks(case: Case) -> tuple[list[CaseNote], list[CaseTask]]:
    notes = list(
        db.session.execute(
            select(CaseNote)
            .options(joinedload(CaseNote.author))
            .where(CaseNote.case_id == case.id)
            .order_by(CaseNote.created_at)
        ).scalars()
    )
    tasks = list(
        db.session.execute(
            select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.done_at.is_not(None), CaseTask.due_on)
        ).scalars()
    )
    return notes, tasks


def earliest_open_task(case_ids: list[str]) -> dict[str, date]:
    """For each case, the due date of its earliest unfinished task (one query for the list)."""
    if not case_ids:
        return {}
    rows = db.session.execute(
        select(CaseTask.case_id, func.min(CaseTask.due_on))
        .where(CaseTask.case_id.in_(case_ids), CaseTask.done_at.is_(None))
        .group_by(CaseTask.case_id)
    ).all()
    return {row.case_id: row[1] for row in rows}
