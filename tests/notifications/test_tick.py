"""The deadline tick: `flask referrals tick` for cron (counts only, idempotent), and the
in-process ticker, which starts only in the process serving `flask run` in development."""

from __future__ import annotations

import time
from datetime import timedelta

import click
import pytest
from flask import Flask
from flask.cli import FlaskGroup, run_command
from sqlalchemy import func, select

from app.core import jobs
from app.core.db import utcnow
from app.extensions import db
from app.notifications.models import Notification
from app.periodic import dev_ticker_wanted, serving_with_flask_run
from app.referrals.models import Referral
from app.referrals.vocabulary import ReferralStatus
from tests.conftest import make_app
from tests.factories import make_referral
from tests.notifications.conftest import FAMILY_NAME, PURPOSE, SERVICE_NAME, Sink, build_world


def overdue_referral(*, minutes_left: float = -5) -> tuple[str, dict[str, str]]:
    """A sent referral whose answer was due ``-minutes_left`` minutes ago; with what must
    never be printed about it."""
    world = build_world()
    referral = make_referral(world.sender, world.case, world.service)
    referral.due_at = utcnow() + timedelta(minutes=minutes_left)
    db.session.commit()
    secrets = {
        "referral": referral.id,
        "case": world.case.id,
        "reference": world.case.reference,
        "family name": FAMILY_NAME,
        "purpose": PURPOSE,
        "service": SERVICE_NAME,
        "sender": world.sender.email,
        "supervisor": world.supervisor.email,
    }
    return referral.id, secrets


def notification_kinds() -> list[str]:
    return sorted(db.session.execute(select(Notification.kind)).scalars())


def test_tick_expires_and_escalates_once_and_prints_counts_only(app: Flask) -> None:
    with app.app_context():
        referral_id, secrets = overdue_referral()
        before = notification_kinds()
    runner = app.test_cli_runner()

    first = runner.invoke(args=["referrals", "tick"])
    assert first.exit_code == 0, first.output
    assert first.output == "Deadlines checked: 0 reminded, 1 expired, 0 skipped.\n"
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == ReferralStatus.EXPIRED
        after_first = notification_kinds()
    added = list(after_first)
    for kind in before:
        added.remove(kind)
    # the sender and both caseworkers hear of the expiry; the sender's supervisor of the escalation
    assert sorted(added) == ["referral.escalated"] + ["referral.expired"] * 3

    second = runner.invoke(args=["referrals", "tick"])
    assert second.exit_code == 0, second.output
    assert second.output == "Deadlines checked: 0 reminded, 0 expired, 0 skipped.\n"
    with app.app_context():
        assert notification_kinds() == after_first
    for name, value in secrets.items():
        assert value not in first.output + second.output, name


def test_tick_reminds_before_the_deadline(app: Flask) -> None:
    with app.app_context():
        referral_id, _ = overdue_referral(minutes_left=1)
        referral = db.session.get(Referral, referral_id)
        referral.sent_at = utcnow() - timedelta(hours=3)  # 1 minute of 3 hours left: time to remind
        db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["referrals", "tick"]).output == "Deadlines checked: 1 reminded, 0 expired, 0 skipped.\n"
    assert runner.invoke(args=["referrals", "tick"]).output == "Deadlines checked: 0 reminded, 0 expired, 0 skipped.\n"
    with app.app_context():
        assert notification_kinds().count("referral.due_soon") == 2  # each caseworker, once


def test_tick_mails_after_its_commit(mail_app: Flask, smtp_sink: Sink) -> None:
    with mail_app.app_context():
        overdue_referral()
    smtp_sink.received.clear()  # the "new referral" e-mails
    result = mail_app.test_cli_runner().invoke(args=["referrals", "tick"])
    assert result.exit_code == 0, result.output
    subjects = sorted(m["Subject"] for m in smtp_sink.messages)
    assert subjects == ["Victim referral: A referral expired without an answer"] * 3 + [
        "Victim referral: Escalation: a referral from your agency expired without an answer"
    ]


# -- the in-process ticker ---------------------------------------------------------------


def run_context(*, reload: bool | None = False) -> click.Context:
    """The click context of `flask run`, as the app factory sees it when the server loads it."""
    parent = click.Context(FlaskGroup(), info_name="flask")
    ctx = click.Context(run_command, parent=parent, info_name="run")
    ctx.params = {"reload": reload}
    return ctx


def test_only_the_development_server_wants_the_ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = {"JOBS_INPROCESS_TICK_SECONDS": 60, "TESTING": False, "JOBS_REDIS_URL": None}
    assert dev_ticker_wanted(dev, run_context()) is True
    assert dev_ticker_wanted({**dev, "TESTING": True}, run_context()) is False
    assert dev_ticker_wanted({**dev, "JOBS_INPROCESS_TICK_SECONDS": 0}, run_context()) is False  # production
    with_redis = {**dev, "JOBS_REDIS_URL": "redis://cache:6379/0"}
    assert dev_ticker_wanted(with_redis, run_context()) is False  # the RQ worker ticks
    assert dev_ticker_wanted(dev, None) is False  # gunicorn, a shell, tests

    db_group = click.Context(click.Group("db"), parent=click.Context(FlaskGroup(), info_name="flask"), info_name="db")
    upgrade = click.Context(click.Command("upgrade"), parent=db_group, info_name="upgrade")
    assert serving_with_flask_run(upgrade) is False  # flask db upgrade
    assert serving_with_flask_run(click.Context(click.Command("seed-demo"), info_name="seed-demo")) is False

    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert serving_with_flask_run(run_context(reload=True)) is False  # the reloader's watcher process
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    assert serving_with_flask_run(run_context(reload=True)) is True  # the process it serves from


def test_flask_run_starts_one_ticker_that_expires_overdue_referrals(app: Flask, database_uri: str) -> None:
    with app.app_context():
        referral_id, _ = overdue_referral()
    assert jobs.running_ticker() is None
    settings = {"TESTING": False, "JOBS_INPROCESS_TICK_SECONDS": 3600}
    try:
        make_app(database_uri, **settings)  # outside `flask run`: no ticker
        assert jobs.running_ticker() is None
        with run_context():
            served = make_app(database_uri, **settings)
            make_app(database_uri, **settings)  # loaded again in the same process: still one ticker
        ticker = jobs.running_ticker()
        assert ticker is not None and ticker.app is served
        deadline = time.monotonic() + 20
        while ticker.ticks < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ticker.ticks == 1  # ran at once, next in an hour
        with app.app_context():
            assert db.session.get(Referral, referral_id).status == ReferralStatus.EXPIRED
            assert (
                db.session.execute(
                    select(func.count()).select_from(Notification).where(Notification.kind == "referral.escalated")
                ).scalar_one()
                == 1
            )
    finally:
        jobs.stop_ticker()
    assert jobs.running_ticker() is None
