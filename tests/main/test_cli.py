"""Command-line tools."""

from __future__ import annotations

import pyotp
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Agency, User
from app.accounts.roles import Role
from app.extensions import db
from tests.conftest import make_app


def test_create_admin_from_flags(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "create-admin",
            "--email",
            "Root@Example.org",
            "--name",
            "Root",
            "--agency",
            "Ops",
            "--country",
            "be",
            "--password-stdin",
        ],
        input="a long enough admin passphrase\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert user.email == "root@example.org" and user.role == Role.SYSTEM_ADMIN
        assert user.agency.member_state_code == "BE" and user.password_hash.startswith("$argon2id$")
        assert "a long enough" not in user.password_hash


def test_create_admin_interactive_and_refusals(app: Flask) -> None:
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-admin"], input="a@example.org\nA\nOps\nFR\npassword\npassword\n")
    assert weak.exit_code != 0 and "Use at least 12 characters." in weak.output
    ok = runner.invoke(
        args=["create-admin"], input="a@example.org\nA\nOps\nFR\nsilver kite mountain\nsilver kite mountain\n"
    )
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(
        args=["create-admin"], input="a@example.org\nA\nOps\nFR\nsilver kite mountain\nsilver kite mountain\n"
    )
    assert again.exit_code != 0 and "already exists" in again.output
    country = runner.invoke(
        args=["create-admin"], input="b@example.org\nB\nOps\nQQ\nsilver kite mountain\nsilver kite mountain\n"
    )
    assert country.exit_code != 0 and "Unknown country code" in country.output


def test_seed_demo_loads_every_agency_kind_in_three_states_and_a_user_per_role(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "DEMO DATA" in result.output and "Password for every demo account" in result.output
    with app.app_context():
        kinds_per_state = db.session.execute(
            select(Agency.member_state_code, func.count(func.distinct(Agency.kind))).group_by(Agency.member_state_code)
        ).all()
        assert sum(1 for _state, kinds in kinds_per_state if kinds == 12) >= 3
        users = db.session.execute(select(User)).scalars().all()
        assert {u.role for u in users} == set(Role)
        assert all(u.two_factor_enabled and u.email.endswith("@demo.invalid") for u in users)
        assert all(u.display_name.startswith("[DEMO]") for u in users)
    # the printed secret works for signing in
    line = next(line for line in result.output.splitlines() if line.strip().startswith("supervisor@"))
    secret = line.split()[-1]
    password = next(line for line in result.output.splitlines() if "Password for every" in line).split()[-1]
    client = app.test_client()
    assert client.post("/sign-in", data={"email": "supervisor@demo.invalid", "password": password}).status_code == 302
    assert client.post("/sign-in/code", data={"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.get("/").status_code == 200
    again = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output


def test_seed_demo_refuses_in_production(database_uri: str, app: Flask) -> None:
    production_like = make_app(database_uri, APP_ENV="production")
    result = production_like.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "refuses to run in production" in result.output
