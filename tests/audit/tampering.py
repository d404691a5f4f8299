"""Changing the audit tables behind the application's back, as a database superuser could.

On PostgreSQL the append-only triggers are switched off for the one transaction
(``session_replication_role = replica``, superuser only); SQLite has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

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
