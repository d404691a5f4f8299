"""Signed checkpoints, the scheduled audit tick, and retention pruning."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import OKPKey
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.accounts.models import MemberState
from app.accounts.roles import AgencyKind, Role
from app.audit import services as audit
from app.audit.models import AuditChainHead, AuditCheckpoint, AuditEntry
from app.audit.signing import BadCheckpoint, new_signing_key, public_jwk, read_checkpoint, sign_checkpoint
from app.cases.models import Case
from app.core.db import utcnow
from app.extensions import db
from app.periodic import audit_tick
from tests.audit.tampering import rewrite_history, tamper
from tests.factories import make_agency, make_case, make_user


def write(n: int, **kwargs: object) -> None:
    actor = make_user(Role.FRONTLINE)
    for i in range(n):
        audit.record("test.event", actor=actor, details={"n": i}, **kwargs)  # type: ignore[arg-type]
    db.session.commit()


def test_checkpoint_is_a_standard_jws_anyone_can_check(app: Flask, ctx: None) -> None:
    from joserfc import jws

    write(2)
    checkpoint = audit.issue_checkpoint("manual")
    assert checkpoint is not None and checkpoint.seq == 2
    key = OKPKey.import_key(public_jwk())
    verified = jws.deserialize_compact(checkpoint.token, key, algorithms=["Ed25519"])
    assert verified.protected == {"alg": "Ed25519", "kid": key.thumbprint()}
    claim = read_checkpoint(checkpoint.token)
    assert (claim.seq, claim.entry_hash, claim.purpose) == (2, checkpoint.entry_hash, "manual")


def test_checkpoint_of_a_retired_key_still_verifies(app: Flask) -> None:
    old_private, old_public = new_signing_key()
    with app.test_request_context():
        app.config["AUDIT_SIGNING_KEY"], previous = old_private, app.config["AUDIT_SIGNING_KEY"]
        try:
            _, token = sign_checkpoint(1, "a" * 64, utcnow(), "manual")
        finally:
            app.config["AUDIT_SIGNING_KEY"] = previous
        with pytest.raises(BadCheckpoint):
            read_checkpoint(token)  # the old key is unknown...
        app.config["AUDIT_RETIRED_PUBLIC_KEYS"] = [old_public]
        try:
            assert read_checkpoint(token).seq == 1  # ...until it is listed as retired
        finally:
            app.config["AUDIT_RETIRED_PUBLIC_KEYS"] = []


def test_tick_signs_when_due_and_verifies_when_due(app: Flask, ctx: None) -> None:
    write(3)
    first = audit_tick()
    assert first.checkpoint_seq == 3 and first.verified == 3 and not first.broken
    purposes = set(db.session.execute(select(AuditCheckpoint.purpose)).scalars())
    assert purposes == {"periodic", "verified"}
    again = audit_tick()  # nothing new is due: no second checkpoint, no second full run
    assert again.checkpoint_seq is None and again.verified is None
    assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar_one() == 2


def test_tick_reports_and_records_a_broken_chain(app: Flask, ctx: None) -> None:
    write(3)
    tamper("UPDATE audit_entry SET action = 'x' WHERE seq = 2")
    outcome = audit_tick()
    assert outcome.broken and outcome.first_broken_seq == 2
    failure = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "audit.verification_failed")
    ).scalar_one()
    assert failure.details["first_broken_seq"] == 2
    result = app.test_cli_runner().invoke(args=["audit", "tick"])
    assert result.exit_code == 1 and "FAILED at entry 2" in result.output


def _age_entries(before_seq: int, when: datetime) -> None:
    """Make the entries before ``before_seq`` look old, payload and chain included."""

    def change(seq: int, fields: dict[str, Any]) -> None:
        if seq < before_seq:
            fields["occurred_at"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    rewrite_history(change)


def test_prune_removes_an_old_prefix_and_keeps_the_chain_verifiable(app: Flask, ctx: None) -> None:
    write(5)  # seq 1-5, old, no case
    case = make_case(make_agency("FR", AgencyKind.POLICE))
    audit.record("case.viewed", actor=None, object_type="case", object_id=case.id, member_state_code="FR")
    db.session.commit()  # seq 6: about a case that still exists, old too
    write(2)  # seq 7-8, recent
    _age_entries(before_seq=7, when=utcnow() - timedelta(days=365 * 11))
    result = audit.prune(utcnow())
    db.session.commit()
    assert (result.pruned, result.through_seq) == (5, 5)  # the case's entry (6) stops the prefix
    assert db.session.execute(select(func.min(AuditEntry.seq))).scalar_one() == 6
    head = db.session.get(AuditChainHead, 1)
    assert head is not None and head.first_seq == 6
    verified = audit.verify_chain()
    assert verified.ok and verified.checked == 4  # 6, 7, 8 and the "audit.pruned" entry
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    # Once the case is gone (its data past retention), its entries may go too.
    db.session.execute(text("DELETE FROM case_event"))
    db.session.delete(db.session.get(Case, case.id))
    db.session.commit()
    again = audit.prune(utcnow())
    db.session.commit()
    assert again.through_seq == 6
    assert audit.verify_chain().ok


def test_prune_respects_each_countrys_retention(app: Flask, ctx: None) -> None:
    db.session.execute(update(MemberState).where(MemberState.code == "FR").values(audit_retention_months=240))
    db.session.commit()
    write(3, member_state_code="FR")
    _age_entries(before_seq=4, when=utcnow() - timedelta(days=365 * 11))
    assert audit.prune(utcnow()).through_seq is None  # 11 years < France's 20
    db.session.rollback()


def test_pruned_part_needs_its_signed_checkpoint(app: Flask, ctx: None) -> None:
    write(4)
    _age_entries(before_seq=3, when=utcnow() - timedelta(days=365 * 11))
    assert audit.prune(utcnow()).through_seq == 2
    db.session.commit()
    tamper("DELETE FROM audit_checkpoint WHERE purpose = 'prune'")
    result = audit.verify_chain()
    assert not result.ok and "pruned part" in (result.reason or "")


@pytest.mark.postgresql
def test_postgresql_lets_only_pruned_entries_be_deleted(app: Flask, ctx: None) -> None:
    write(4)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 1"))
    _age_entries(before_seq=3, when=utcnow() - timedelta(days=365 * 11))
    assert audit.prune(utcnow()).pruned == 2  # the trigger lets these two through
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    assert audit.verify_chain().ok


def test_audit_retention_must_cover_case_retention(app: Flask, ctx: None) -> None:
    from sqlalchemy.exc import IntegrityError

    db.session.execute(update(MemberState).where(MemberState.code == "FR").values(retention_months=60))
    with pytest.raises(IntegrityError):
        db.session.execute(update(MemberState).where(MemberState.code == "FR").values(audit_retention_months=24))
        db.session.flush()
    db.session.rollback()
