"""Changing the audit tables behind the application's back, as a database superuser could.

On PostgreSQL the append-only triggers are switched off for the one transaction
(``session_replication_role = replica``, superuser only); SQLite has none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import Connection, select, text

from app.audit.models import GENESIS_HASH, AuditEntry
from app.audit.services import chain_hash
from app.extensions import db


@contextmanager
def behind_the_apps_back() -> Iterator[Connection]:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


def tamper(sql: str, params: dict[str, object] | None = None) -> None:
    with behind_the_apps_back() as conn:
        conn.execute(text(sql), params or {})


def rewrite_history(change: Callable[[int, dict[str, Any]], None], *, from_seq: int = 1) -> None:
    """Rewrite entries from ``from_seq`` on (``change(seq, fields)`` edits an entry's hashed
    fields in place) and re-hash the chain after them, head included, so that the chain on
    its own looks intact again: what an attacker with database access would do."""
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    prev = rows[from_seq - 2].entry_hash if from_seq > 1 else GENESIS_HASH
    updates = []
    for entry in rows[from_seq - 1 :]:
        fields = json.loads(entry.payload)
        change(entry.seq, fields)
        payload = rfc8785.dumps(fields).decode()
        new_hash = chain_hash(prev, payload)
        occurred = datetime.strptime(fields["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        updates.append({"s": entry.seq, "o": occurred, "p": payload, "prev": prev, "h": new_hash})
        prev = new_hash
    db.session.rollback()
    with behind_the_apps_back() as conn:
        for values in updates:
            conn.execute(
                text(
                    "UPDATE audit_entry SET occurred_at = :o, payload = :p, prev_hash = :prev, entry_hash = :h"
                    " WHERE seq = :s"
                ),
                values,
            )
        conn.execute(text("UPDATE audit_chain_head SET last_hash = :h WHERE id = 1"), {"h": prev})
