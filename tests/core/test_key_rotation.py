"""`flask keys rotate` re-encrypts stored values under the new key, with no downtime."""

from __future__ import annotations

import base64

from flask import Flask
from sqlalchemy import select

from app.accounts import two_factor
from app.accounts.models import User
from app.accounts.roles import Role
from app.core.crypto import key_id_of
from app.extensions import db
from tests.conftest import make_app
from tests.factories import make_user


def test_rotation_moves_every_value_to_the_new_key(database_uri: str, app: Flask) -> None:
    with app.app_context():
        users = [make_user(Role.SUPERVISOR, totp_secret=two_factor.new_secret()) for _ in range(5)]
        secrets = {u.id: two_factor.read_secret(db.session.get(User, u.id)) for u in users}
        assert {key_id_of(u.totp_secret) for u in users} == {"t2"}
    old_keys = app.config["FIELD_ENCRYPTION_KEYS"]
    new_key = "t3:" + base64.urlsafe_b64encode(b"\x07" * 32).decode()
    rotated_app = make_app(database_uri, FIELD_ENCRYPTION_KEYS=f"{new_key},{old_keys}")
    runner = rotated_app.test_cli_runner()

    status = runner.invoke(args=["keys", "status"])
    assert "t2: 5 values" in status.output and "t3" not in status.output

    result = runner.invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "user_account.totp_secret: 5 re-encrypted of 5" in result.output

    with rotated_app.app_context():
        stored = db.session.execute(select(User)).scalars().all()
        assert {key_id_of(u.totp_secret) for u in stored} == {"t3"}
        assert {u.id: two_factor.read_secret(u) for u in stored} == secrets  # same secrets, new key
    again = runner.invoke(args=["keys", "rotate"])
    assert "0 re-encrypted of 5" in again.output  # idempotent
    assert "t3 (active): 5 values" in runner.invoke(args=["keys", "status"]).output


def test_plaintext_never_reaches_an_encrypted_column(app: Flask) -> None:
    import pytest
    from sqlalchemy.exc import StatementError

    with app.app_context():
        user = make_user(Role.FRONTLINE)
        user.totp_secret = "JBSWY3DPEHPK3PXP"
        with pytest.raises(StatementError, match="plaintext must not reach an encrypted column"):
            db.session.commit()
        db.session.rollback()
