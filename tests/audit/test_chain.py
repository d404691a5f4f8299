"""The audit chain: entries written with what they record, verification catches tampering."""

from __future__ import annotations

import itertools

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.accounts.roles import Role
from app.audit import services as audit
from app.audit.models import AuditChainHead, AuditEntry
from app.extensions import db
from tests.factories import make_user


def write_entries(n: int) -> None:
    actor = make_user(Role.FRONTLINE)
    for i in range(n):
        audit.record("test.event", actor=actor, object_type="thing", object_id=i, details={"n": i, "note": "é"})
    db.session.commit()


def run_verify(app: Flask) -> Result:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_entries_chain_and_verify(app: Flask, ctx: None) -> None:
    write_entries(5)
    entries = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    assert audit.verify_chain().ok
    result = run_verify(app)
    assert result.exit_code == 0 and "5 entries verified" in result.output


def test_failed_sign_in_records_account_request_and_origin(app: Flask, client: object) -> None:
    with app.app_context():
        user = make_user(Role.FRONTLINE, email="f@example.org")
    app.test_client().post(
        "/sign-in",
        data={"email": "f@example.org", "password": "wrong wrong wrong"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    with app.app_context():
        entry = db.session.execute(select(AuditEntry)).scalar_one()
        assert entry.actor_id is None and entry.object_type == "user" and entry.object_id == str(user.id)
        assert entry.action == "auth.sign_in.failure" and entry.client_address == "192.0.2.7"
        assert entry.request_id and len(entry.request_id) == 16


def test_secrets_are_refused_in_details(app: Flask, ctx: None) -> None:
    with pytest.raises(ValueError, match="must not carry"):
        audit.record("x", actor=None, details={"password": "hunter2"})


def _tamper(sql: str) -> None:
    """Change rows behind the application's back (disabling PostgreSQL's guard first)."""
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        conn.execute(text(sql))
        if postgres:
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))


@pytest.mark.parametrize(
    ("sql", "broken_at"),
    [
        ("UPDATE audit_entry SET action = 'test.other' WHERE seq = 3", 3),
        ("UPDATE audit_entry SET actor_id = NULL WHERE seq = 2", 2),
        ("DELETE FROM audit_entry WHERE seq = 4", 4),
        ("DELETE FROM audit_entry WHERE seq = 6", 6),  # the newest entry: the chain head catches it
        # reorder: swap the contents of entries 2 and 3 (each keeps its seq)
        (
            "UPDATE audit_entry SET seq = CASE seq WHEN 2 THEN 1002 WHEN 3 THEN 1003 END WHERE seq IN (2, 3);"
            " UPDATE audit_entry SET seq = 3 WHERE seq = 1002; UPDATE audit_entry SET seq = 2 WHERE seq = 1003",
            2,
        ),
    ],
)
def test_verification_names_first_broken_entry(app: Flask, ctx: None, sql: str, broken_at: int) -> None:
    write_entries(6)
    for statement in sql.split(";"):
        _tamper(statement)
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == broken_at
    cli = run_verify(app)
    assert cli.exit_code == 1 and f"BROKEN at entry {broken_at}" in cli.output


@pytest.mark.postgresql
def test_postgresql_rejects_update_and_delete(app: Flask, ctx: None) -> None:
    write_entries(2)
    for sql in ("UPDATE audit_entry SET action = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert audit.verify_chain().ok


def test_entry_is_written_in_the_same_transaction(app: Flask, ctx: None) -> None:
    user = make_user(Role.FRONTLINE)
    audit.record("test.event", actor=user)
    db.session.rollback()
    assert db.session.execute(select(AuditEntry)).first() is None
    head = db.session.get(AuditChainHead, 1)
    assert head is None or head.last_seq == 0
