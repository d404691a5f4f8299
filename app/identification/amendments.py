"""Amending a submitted identification: a reason, the changed fields; the original is kept."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.services import FieldError
from app.audit.services import field_changes, record
from app.cases.models import Case, CaseEvent
from app.cases.states import case_worker
from app.core.errors import NotFound
from app.extensions import db
from app.identification.models import IdentificationAmendment, IdentificationRecord, RecordStatus

FLAGS = ("medical_emergency", "accommodation_tonight", "child_protection")
AMENDABLE = ("place", "risk_level", "risk_note", "observations", *FLAGS)
# Everything about the person is masked in the audit trail's before/after: the free text,
# and the health, child-protection and risk facts too (the trail is kept for years and
# read by supervisors, who see the trail, not the case).
PERSONAL = AMENDABLE
AMENDABLE_TITLES = {
    "place": _l("Place"),
    "risk_level": _l("Risk from traffickers"),
    "risk_note": _l("About the risk"),
    "observations": _l("Observations"),
    "medical_emergency": _l("Needs urgent medical care"),
    "accommodation_tonight": _l("Needs a safe place to sleep tonight"),
    "child_protection": _l("Child protection must be involved"),
}


def amendable_record(actor: User, record_id: str) -> tuple[IdentificationRecord, Case]:
    row = db.session.get(IdentificationRecord, record_id)
    if row is None or row.status != RecordStatus.SUBMITTED or row.case_id is None:
        raise NotFound()
    case = db.session.get(Case, row.case_id)
    if case is None or not case_worker(actor, case):
        raise NotFound()
    return row, case


def amendments_of(record_ids: list[str]) -> dict[str, list[IdentificationAmendment]]:
    rows = db.session.execute(
        select(IdentificationAmendment)
        .options(joinedload(IdentificationAmendment.author))
        .where(IdentificationAmendment.identification_id.in_(record_ids))
        .order_by(IdentificationAmendment.created_at)
    ).scalars()
    result: dict[str, list[IdentificationAmendment]] = {}
    for amendment in rows:
        result.setdefault(amendment.identification_id, []).append(amendment)
    return result


def current_values(row: IdentificationRecord) -> dict[str, Any]:
    """The record as amended: the original content with every change applied in order."""
    values: dict[str, Any] = json.loads(row.content or "{}")
    for amendment in amendments_of([row.id]).get(row.id, []):
        values.update(json.loads(amendment.changes))
    return values


def amend(actor: User, row: IdentificationRecord, case: Case, *, reason: str, new: dict[str, Any]) -> int:
    """Record the fields that differ from the current values; returns how many changed."""
    reason = reason.strip()
    if not reason:
        raise FieldError("reason", _l("Say why the record is corrected."))
    if len(reason) > 500:
        raise FieldError("reason", _l("Use at most 500 characters."))
    current = current_values(row)
    changes = {k: v for k, v in new.items() if k in AMENDABLE and current.get(k) != v}
    if not changes:
        raise FieldError("reason", _l("Nothing was changed."))
    amendment = IdentificationAmendment(identification_id=row.id, author_id=actor.id)
    amendment.reason = reason
    amendment.changes = json.dumps(changes)
    db.session.add(amendment)
    db.session.add(
        CaseEvent(
            case_id=case.id, actor_id=actor.id, kind="identification.amended", details={"fields": sorted(changes)}
        )
    )
    db.session.flush()
    record(
        "identification.amended",
        actor=actor,
        object_type="identification",
        object_id=row.id,
        case_id=row.case_id,
        details={
            "fields": sorted(changes),
            "amendment": amendment.id,
            "changes": field_changes({k: current.get(k) for k in changes}, changes, personal=PERSONAL),
        },
    )
    return len(changes)
