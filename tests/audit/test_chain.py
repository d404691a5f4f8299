"""The audit chain: entries written with what they record, verification catches tampering."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.accounts.roles import Role
from app.audit import services as audit
from app.audit.models import AuditChainHead, AuditEntry
from app.audit.signing import sign_checkpoint
from app.core.db import utcnow
from app.extensions import db
from tests.audit.tampering import rewrite_history, tamper
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
    """Change rows behind the application's back."""
    tamper(sql)


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
    audit.issue_checkpoint("manual")
    db.session.commit()
    for sql in (
        "UPDATE audit_entry SET action = 'x'",
        "DELETE FROM audit_entry",
        "TRUNCATE audit_entry",
        "UPDATE audit_chain_head SET last_seq = 1",  # cutting the tail
        "UPDATE audit_checkpoint SET purpose = 'verified'",
        "DELETE FROM audit_checkpoint",
        "TRUNCATE audit_checkpoint",
    ):
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert audit.verify_chain().ok


def test_moving_the_start_by_hand_to_hide_old_entries_is_caught(app: Flask, ctx: None, tmp_path: Path) -> None:
    """Someone allowed to prune moves the kept chain's start past old entries and deletes
    them, with a periodic (not a prune) checkpoint at the new boundary."""
    write_entries(3)
    kept = app.test_cli_runner().invoke(args=["audit", "checkpoint"]).output.strip()  # seq 3, kept outside
    write_entries(3)
    audit.issue_checkpoint("periodic")
    db.session.commit()  # seq 6
    write_entries(2)
    boundary = db.session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == 6)).scalar_one()
    db.session.rollback()
    _tamper_params("UPDATE audit_chain_head SET first_seq = 7, first_prev_hash = :h WHERE id = 1", {"h": boundary})
    _tamper("DELETE FROM audit_entry WHERE seq <= 6")
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 7 and "prune checkpoint" in (result.reason or "")
    path = tmp_path / "kept.jws"
    path.write_text(kept)
    cli = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert cli.exit_code == 1 and "BROKEN at entry 7" in cli.output


def test_entry_is_written_in_the_same_transaction(app: Flask, ctx: None) -> None:
    user = make_user(Role.FRONTLINE)
    audit.record("test.event", actor=user)
    db.session.rollback()
    assert db.session.execute(select(AuditEntry)).first() is None
    head = db.session.get(AuditChainHead, 1)
    assert head is None or head.last_seq == 0


def _rewrite_history_from(seq: int) -> None:
    """An attacker rewrites entry ``seq`` and re-hashes everything after it."""

    def change(entry_seq: int, fields: dict[str, Any]) -> None:
        if entry_seq == seq:
            fields["details"] = {"n": 999}

    rewrite_history(change, from_seq=seq)


def _tamper_params(sql: str, params: dict[str, object]) -> None:
    tamper(sql, params)


def test_payload_edit_and_column_edit_are_each_caught(app: Flask, ctx: None) -> None:
    write_entries(4)
    _tamper("UPDATE audit_entry SET case_id = 'c-hidden' WHERE seq = 2")
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 2 and "columns" in (result.reason or "")
    db.session.rollback()
    _tamper("UPDATE audit_entry SET case_id = NULL WHERE seq = 2")
    _tamper_params(
        "UPDATE audit_entry SET payload = replace(payload, :a, :b) WHERE seq = 4", {"a": '"n":3', "b": '"n":4'}
    )
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 4 and "hash" in (result.reason or "")


def test_rewritten_history_is_caught_by_a_stored_checkpoint(app: Flask, ctx: None) -> None:
    write_entries(3)
    audit.issue_checkpoint("periodic")
    db.session.commit()
    write_entries(2)
    _rewrite_history_from(2)
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 3  # the checkpointed entry no longer matches
    assert "checkpoint" in (result.reason or "")


def test_rewritten_history_is_caught_by_a_checkpoint_kept_outside(app: Flask, ctx: None, tmp_path: Path) -> None:
    write_entries(3)
    checkpoint = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert checkpoint.exit_code == 0
    kept = tmp_path / "checkpoint.jws"
    kept.write_text(checkpoint.output.strip())
    # The attacker also removes the stored checkpoint, so only the outside copy remains.
    _tamper_params("DELETE FROM audit_checkpoint", {})
    _rewrite_history_from(1)
    assert run_verify(app).exit_code == 0  # the chain alone looks intact...
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(kept)])
    assert result.exit_code == 1 and "BROKEN at entry 3" in result.output  # ...not against the kept checkpoint


def test_a_forged_checkpoint_is_refused(app: Flask, ctx: None, tmp_path: Path) -> None:
    write_entries(2)
    _kid, token = sign_checkpoint(2, "f" * 64, utcnow(), "manual")
    header, payload, signature = token.split(".")
    forged = tmp_path / "forged.jws"
    forged.write_text(f"{header}.{payload}.{signature[:-4]}AAAA")
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(forged)])
    assert result.exit_code == 1 and "refused" in result.output
    genuine = tmp_path / "genuine.jws"
    genuine.write_text(token)  # signed by us, but for a hash the chain never had
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(genuine)])
    assert result.exit_code == 1 and "BROKEN at entry 2" in result.output


def test_a_stored_checkpoint_with_a_bad_signature_fails_verification(app: Flask, ctx: None) -> None:
    write_entries(2)
    audit.issue_checkpoint("periodic")
    db.session.commit()
    _tamper_params("UPDATE audit_checkpoint SET token = token || 'x'", {})
    result = audit.verify_chain()
    assert not result.ok and "signature" in (result.reason or "")


def test_truncation_after_a_checkpoint_is_caught(app: Flask, ctx: None) -> None:
    write_entries(4)
    audit.issue_checkpoint("periodic")
    db.session.commit()
    _tamper("DELETE FROM audit_entry WHERE seq = 4")
    _tamper_params(
        "UPDATE audit_chain_head SET last_seq = 3, last_hash = (SELECT entry_hash FROM audit_entry WHERE seq = 3)",
        {},
    )
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 4


def test_field_changes_mask_personal_values() -> None:
    changes = audit.field_changes(
        {"status": "open", "family_name": "Doe", "note": None, "same": 1},
        {"status": "closed", "family_name": "Roe", "note": "x", "same": 1},
        personal={"family_name", "note"},
    )
    assert changes == {
        "status": {"from": "open", "to": "closed"},
        "family_name": {"from": "***", "to": "***"},
        "note": {"from": None, "to": "***"},
    }


def test_verification_is_bounded_by_the_head_it_read(app: Flask, ctx: None) -> None:
    """Entries committed while a verification runs belong to the next run, not to a false alarm."""
    write_entries(3)
    head = db.session.get(AuditChainHead, 1)
    assert head is not None
    head_seq = head.last_seq
    result = audit.verify_chain()
    assert result.ok and result.last_seq == head_seq == 3


def test_a_payload_that_is_not_an_entry_is_named_not_raised(app: Flask, ctx: None) -> None:
    """Rewritten as garbage and re-hashed so the hash matches: verification must still name
    the entry (PostgreSQL cannot read it as JSON and the walk falls back to Python)."""
    write_entries(3)
    prev = db.session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == 1)).scalar_one()
    garbage = "not json at all"
    db.session.rollback()
    _tamper_params(
        "UPDATE audit_entry SET payload = :p, entry_hash = :h WHERE seq = 2",
        {"p": garbage, "h": audit.chain_hash(prev, garbage)},
    )
    result = audit.verify_chain()
    assert not result.ok and result.first_broken_seq == 2
    assert result.reason == "entry columns do not match the hashed content"
