"""Background jobs, both ways: in-process after the commit (never after a rollback), and
through the RQ queue in the real Redis, run by a worker inside the app."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import func, select

from app.core import jobs
from app.core.db import utcnow
from app.extensions import db
from app.notifications.models import Notification
from app.periodic import DEADLINE_TICK, PERIODIC_JOBS
from app.referrals.models import Referral
from app.referrals.vocabulary import ReferralStatus
from tests.factories import make_referral
from tests.notifications.conftest import JOBS_REDIS_URL, Sink, build_world, free_port

MAIL_JOB = "app.notifications.mail.send_notification"


def queue_mail(to: str = "caseworker@example.org") -> None:
    jobs.enqueue(MAIL_JOB, to=to, kind="referral.received", link="/referrals/abc", language="en")


def rq_queue() -> Queue:
    return jobs.redis_queue(JOBS_REDIS_URL)


def run_worker(app: Flask) -> None:
    """A burst worker in this process (no fork) running the queued jobs inside ``app``."""
    jobs.use_app(app)
    queue = rq_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


# -- in-process (no Redis configured) ----------------------------------------------------


def test_in_process_job_runs_after_the_commit(mail_app: Flask, smtp_sink: Sink) -> None:
    with mail_app.test_request_context():
        queue_mail()
        db.session.flush()
        assert smtp_sink.received == []
        db.session.commit()
    assert smtp_sink.recipients == ["caseworker@example.org"]


def test_in_process_job_is_dropped_on_rollback(mail_app: Flask, smtp_sink: Sink) -> None:
    with mail_app.test_request_context():
        queue_mail()
        db.session.rollback()
        db.session.commit()
    assert smtp_sink.received == []


def test_savepoints_keep_their_jobs_until_the_outer_commit_and_drop_them_on_rollback(
    mail_app: Flask, smtp_sink: Sink
) -> None:
    with mail_app.test_request_context():
        queue_mail("before@example.org")
        with pytest.raises(RuntimeError), db.session.begin_nested():
            queue_mail("rolled.back@example.org")
            raise RuntimeError("undo this savepoint")
        with db.session.begin_nested():
            queue_mail("released@example.org")
        assert smtp_sink.received == []  # releasing a savepoint is not a commit
        db.session.commit()
    assert smtp_sink.recipients == ["before@example.org", "released@example.org"]


def test_failing_in_process_job_is_logged_by_type_only(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    monkeypatch.setitem(app.config, "MAIL_STARTTLS", False)
    with app.test_request_context(), caplog.at_level(logging.ERROR):
        queue_mail("private.person@example.org")
        db.session.commit()  # the failure does not reach the caller
    assert f"job {MAIL_JOB} failed: ConnectionRefusedError" in caplog.text
    assert "private.person" not in caplog.text


# -- RQ with the real Redis --------------------------------------------------------------


def test_referral_mail_waits_in_the_queue_until_a_worker_runs_it(rq_app: Flask, smtp_sink: Sink) -> None:
    with rq_app.app_context():
        world = build_world()
        referral = make_referral(world.sender, world.case, world.service)
        addresses = sorted(u.email for u in world.caseworkers)
        in_app = db.session.execute(select(func.count()).select_from(Notification)).scalar_one()
    assert in_app == 2  # the in-app notifications are there at once

    queue = rq_queue()
    queued = [Job.fetch(job_id, connection=queue.connection) for job_id in queue.job_ids]
    assert len(queued) == 2
    assert {job.description for job in queued} == {MAIL_JOB}  # what RQ logs: no address
    assert smtp_sink.received == []

    run_worker(rq_app)
    assert sorted(smtp_sink.recipients) == addresses
    assert all(f"/referrals/{referral.id}" in m.get_content() for m in smtp_sink.messages)
    assert queue.count == 0


def test_failed_mail_job_is_retried_later_and_logged_without_the_address(
    rq_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(rq_app.config, "MAIL_PORT", free_port())  # the SMTP server is down
    with rq_app.test_request_context():
        queue_mail("private.person@example.org")
        db.session.commit()
    queue = rq_queue()
    (job_id,) = queue.job_ids
    with caplog.at_level(logging.INFO):
        run_worker(rq_app)
    job = Job.fetch(job_id, connection=queue.connection)
    assert job.get_status() == JobStatus.SCHEDULED  # tried again in a minute
    assert job.retries_left == len(jobs.RETRY_INTERVALS[MAIL_JOB]) - 1
    assert job_id in ScheduledJobRegistry(queue=queue).get_job_ids()
    assert f"JobFailed: job {MAIL_JOB} failed: ConnectionRefusedError" in caplog.text
    assert "private.person" not in caplog.text


def test_failed_job_is_recorded_without_its_message(rq_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rq_app.config, "MAIL_PORT", free_port())
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", {})  # no retries: it fails for good at once
    with rq_app.test_request_context():
        queue_mail("private.person@example.org")
        db.session.commit()
    queue = rq_queue()
    (job_id,) = queue.job_ids
    run_worker(rq_app)
    job = Job.fetch(job_id, connection=queue.connection)
    assert job.get_status() == JobStatus.FAILED
    assert job_id in FailedJobRegistry(queue=queue).get_job_ids()
    result = job.latest_result()
    assert result is not None and result.exc_string is not None
    assert f"JobFailed: job {MAIL_JOB} failed: ConnectionRefusedError" in result.exc_string
    assert "private.person" not in result.exc_string
    assert "Traceback" in result.exc_string and "smtplib" not in result.exc_string  # the original is cut off


def test_unreachable_queue_falls_back_to_running_in_process(
    mail_app: Flask, smtp_sink: Sink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(mail_app.config, "JOBS_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    with mail_app.test_request_context(), caplog.at_level(logging.ERROR):
        queue_mail()
        db.session.commit()
    assert smtp_sink.recipients == ["caseworker@example.org"]
    assert "job queue unreachable (ConnectionError)" in caplog.text


def test_periodic_job_is_booked_once_per_time_slot(redis_db: redis.Redis) -> None:
    queue = rq_queue()
    moment = 1_800_000_000.0
    assert jobs.schedule_periodic(queue, DEADLINE_TICK, 60, now=moment) is True
    assert jobs.schedule_periodic(queue, DEADLINE_TICK, 60, now=moment + 30) is False  # same slot: another worker
    assert jobs.schedule_periodic(queue, DEADLINE_TICK, 60, now=moment + 60) is True  # the next slot
    booked = ScheduledJobRegistry(queue=queue).get_job_ids()
    slot = int(moment // 60) + 1
    assert sorted(booked) == sorted(
        [jobs.periodic_job_id(DEADLINE_TICK, slot), jobs.periodic_job_id(DEADLINE_TICK, slot + 1)]
    )


def test_periodic_tick_expires_escalates_mails_and_books_the_next_run(rq_app: Flask, smtp_sink: Sink) -> None:
    with rq_app.app_context():
        world = build_world()
        referral = make_referral(world.sender, world.case, world.service)
        supervisor_address = world.supervisor.email
        for job_id in rq_queue().job_ids:  # the "new referral" e-mails: not what this test is about
            rq_queue().remove(job_id)
        overdue = db.session.get(Referral, referral.id)
        overdue.due_at = utcnow().replace(microsecond=0) - timedelta(minutes=5)
        db.session.commit()

    queue = rq_queue()
    queue.enqueue(jobs.run_periodic, DEADLINE_TICK, 60, description=DEADLINE_TICK, result_ttl=0)
    run_worker(rq_app)

    with rq_app.app_context():
        assert db.session.get(Referral, referral.id).status == ReferralStatus.EXPIRED
    subjects = {m["Subject"] for m in smtp_sink.messages}
    assert "Victim referral: A referral expired without an answer" in subjects
    assert supervisor_address in smtp_sink.recipients  # escalated to the sender's supervisor
    booked = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(booked) == 1 and booked[0].startswith("periodic-app_periodic_deadline_tick-")


def test_worker_command_runs_the_queue_in_the_app_and_books_the_tick(rq_app: Flask, smtp_sink: Sink) -> None:
    with rq_app.app_context():
        world = build_world()
        make_referral(world.sender, world.case, world.service)
        addresses = sorted(u.email for u in world.caseworkers)
    assert smtp_sink.received == []

    runner = rq_app.test_cli_runner()
    result = runner.invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert sorted(smtp_sink.recipients) == addresses
    assert rq_queue().count == 0
    booked = sorted(ScheduledJobRegistry(queue=rq_queue()).get_job_ids())
    assert len(booked) == len(PERIODIC_JOBS) == 3  # the next deadline, audit and federation delivery ticks

    again = runner.invoke(args=["jobs", "worker", "--burst"])
    assert again.exit_code == 0, again.output
    # still one each, however many workers
    assert sorted(ScheduledJobRegistry(queue=rq_queue()).get_job_ids()) == booked


def test_worker_command_needs_redis(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code != 0
    assert "JOBS_REDIS_URL" in result.output
