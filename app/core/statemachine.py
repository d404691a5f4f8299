"""One transition table per stateful record, and one function that applies a transition.

Every legal (from, action, to) is a row with its guard. ``apply_transition`` checks the
row and the guard, sets the new state, and writes the audit entry (with the field-level
before/after: the status, plus any ``details["changes"]`` the caller computed) in the
same transaction; callers add timestamps and timeline entries that belong to their area.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.audit.services import field_changes, record
from app.core.errors import Conflict, PermissionDenied

S = TypeVar("S", bound=enum.Enum)


@dataclass(frozen=True)
class Transition(Generic[S]):
    source: S
    action: str
    target: S
    title: LazyString
    allowed: Callable[[Any, Any], bool]  # (actor, record) -> may this actor do it?


class TransitionTable(Generic[S]):
    def __init__(self, object_type: str, rows: list[Transition[S]]) -> None:
        self.object_type = object_type
        self.rows = tuple(rows)
        keys = [(row.source, row.action) for row in rows]
        if len(keys) != len(set(keys)):
            raise ValueError("a (state, action) pair appears twice")

    def find(self, source: S, action: str) -> Transition[S] | None:
        return next((row for row in self.rows if row.source == source and row.action == action), None)

    def available(self, source: S, actor: Any, obj: Any) -> list[Transition[S]]:
        return [row for row in self.rows if row.source == source and row.allowed(actor, obj)]


def apply_transition(
    table: TransitionTable[S],
    obj: Any,
    action: str,
    *,
    actor: Any,
    details: dict[str, Any] | None = None,
    side_checked: bool = False,
) -> Transition[S]:
    """``side_checked``: the caller has checked the row's side by a rule of its own instead
    of the row's guard (a change made on a peer installation, applied from its receipt)."""
    transition = table.find(obj.status, action)
    if transition is None:
        raise Conflict(_l("This action is not possible in the record's current state. Reload the page."))
    if not side_checked and not transition.allowed(actor, obj):
        raise PermissionDenied()
    previous = obj.status
    obj.status = transition.target
    extra = dict(details or {})
    # The status change, with any other fields the caller changed (already masked by it).
    changes = field_changes({"status": previous}, {"status": transition.target})
    changes.update(extra.pop("changes", None) or {})
    record(
        f"{table.object_type}.{action}",
        actor=actor,
        object_type=table.object_type,
        object_id=obj.id,
        case_id=getattr(obj, "case_id", None),
        details={"from": previous.value, "to": transition.target.value, **extra, "changes": changes},
    )
    return transition
