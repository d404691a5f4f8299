"""The chain stays gap-free and in order with several writers at once.

On PostgreSQL each writer locks the chain-head row (SELECT ... FOR UPDATE); on SQLite a
request's transaction takes the write lock up front (BEGIN IMMEDIATE), so concurrent
requests queue instead of failing with "database is locked".
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.roles import AgencyKind, Role
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.extensions import db
from tests.factories import make_agency, make_case, make_user, sign_in_directly

WRITERS = 6
EACH = 25


@pytest.mark.postgresql
def test_concurrent_writers_keep_the_chain_in_order(app: Flask) -> None:
    with app.app_context():
        user_id = make_user(Role.FRONTLINE).id
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            with app.app_context():
                actor = db.session.get(User, user_id)
                barrier.wait(timeout=10)
                for n in range(EACH):
                    audit.record("test.concurrent", actor=actor, details={"writer": index, "n": n})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        seqs = list(db.session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars())
        assert seqs == list(range(1, WRITERS * EACH + 1))
        result = audit.verify_chain()
        assert result.ok and result.checked == WRITERS * EACH
        # each writer's own entries are in its own order
        rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        for index in range(WRITERS):
            mine = [e.details["n"] for e in rows if e.details["writer"] == index]
            assert mine == list(range(EACH))


def test_concurrent_requests_all_succeed_and_chain(app: Flask) -> None:
    """Several officers open cases at the same moment: every request succeeds (on SQLite
    too) and every view is in the chain."""
    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        case_id = make_case(agency).id
        officers = [make_user(Role.FRONTLINE, agency) for _ in range(4)]
    clients = []
    for officer in officers:
        client = app.test_client()
        with app.app_context():
            sign_in_directly(client, db.session.merge(officer))
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    lock = threading.Lock()

    def browse(client: object) -> None:
        barrier.wait(timeout=10)
        for _ in range(5):
            status = client.get(f"/cases/{case_id}").status_code  # type: ignore[attr-defined]
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=browse, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 20
    with app.app_context():
        views = db.session.execute(select(AuditEntry).where(AuditEntry.action == "case.viewed")).scalars().all()
        assert len(views) == 20 and {v.case_id for v in views} == {case_id}
        assert audit.verify_chain().ok
