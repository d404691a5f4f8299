"""Background jobs: queued in the caller's transaction, dispatched only once it commits.

With ``JOBS_REDIS_URL`` set (production: the same Redis as rate limits), jobs go to an RQ
queue and ``flask jobs worker`` runs them. Without it (the embedded default and tests), they
run in-process right after the commit. A job is named by its dotted path and takes plain
keyword arguments (never an ORM object), so both ways run the same code.

Periodic jobs (the deadline tick) run the same way: a chain of scheduled RQ jobs, one per
time slot, under the worker's scheduler; or a ticker thread under the development server.

Nothing here logs a job's arguments: an e-mail job's arguments hold an address. RQ logs a
job's description, which is set to the job's dotted path only; a failing job's error is
replaced by :class:`JobFailed`, which names the exception type and nothing else.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import expecting_writes

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

log = logging.getLogger(__name__)

QUEUE_NAME = "default"
_PENDING = "pending_jobs"
FAILURE_TTL = 7 * 24 * 3600  # failed jobs stay in Redis a week for the operator to inspect
# Jobs that reach another server are retried with back-off (seconds) before they count as failed.
RETRY_INTERVALS: dict[str, list[int]] = {"app.notifications.mail.send_notification": [60, 300, 1800]}


class JobFailed(RuntimeError):
    """Raised in a worker in place of a job's own error, whose message may hold personal data."""


def enqueue(func_path: str, **kwargs: Any) -> None:
    """Queue ``func_path(**kwargs)`` to run once the current transaction commits.

    Queued inside a savepoint (``begin_nested``), the job is dropped if that savepoint rolls
    back, and still waits for the outer transaction's commit if it is released.
    """
    from app.extensions import db

    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still drops the job
    session.info.setdefault(_PENDING, []).append((func_path, kwargs))


def resolve(func_path: str) -> Any:
    module_name, _, name = func_path.rpartition(".")
    if not module_name.startswith("app."):
        raise ValueError("jobs must live in the app package")
    return getattr(importlib.import_module(module_name), name)


def run_job(func_path: str, kwargs: dict[str, Any]) -> None:
    """Run one job in-process; a failure is logged by type only and never reaches the user."""
    try:
        with expecting_writes():
            resolve(func_path)(**kwargs)
    except Exception as exc:
        log.error("job %s failed: %s", func_path, type(exc).__name__)


# -- the application a worker runs jobs in ----------------------------------------------

_worker_app: Flask | None = None
_worker_pid: int | None = None


def use_app(app: Flask | None) -> None:
    """Run RQ jobs of this process in ``app`` (``flask jobs worker`` and tests set it).

    ``None`` forgets it: a worker started by RQ's own command line builds one from the
    environment with ``create_app()`` on its first job.
    """
    global _worker_app, _worker_pid  # noqa: PLW0603 - one app per worker process
    _worker_app = app
    _worker_pid = os.getpid() if app is not None else None


def worker_app() -> Flask:
    global _worker_pid  # noqa: PLW0603 - see use_app
    if _worker_app is None:
        from app import create_app

        use_app(create_app())
    assert _worker_app is not None
    if _worker_pid != os.getpid():
        # A forked work horse must not share the parent's database connections.
        from app.extensions import db

        with _worker_app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        _worker_pid = os.getpid()
    return _worker_app


def run_in_app(func_path: str, kwargs: dict[str, Any]) -> None:
    """Entry point of a job in an RQ worker: the same code, inside an application context.

    A failure is raised again as :class:`JobFailed` (the session is rolled back when the
    context ends), so RQ records it, and retries it when a retry policy was set, without the
    original message.
    """
    with worker_app().app_context():
        try:
            with expecting_writes():
                resolve(func_path)(**kwargs)
        except Exception as exc:
            raise JobFailed(f"job {func_path} failed: {type(exc).__name__}") from None


# -- the queue ---------------------------------------------------------------------------

_connections: dict[str, Redis] = {}


def redis_connection(url: str | None = None) -> Redis:
    """One connection pool per Redis URL and process (redis-py renews it after a fork)."""
    from redis import Redis

    url = url or current_app.config["JOBS_REDIS_URL"]
    if url not in _connections:
        _connections[url] = Redis.from_url(url)
    return _connections[url]


def redis_queue(url: str | None = None) -> Queue:
    from rq import Queue

    return Queue(QUEUE_NAME, connection=redis_connection(url))


def send_to_queue(queue: Queue, func_path: str, kwargs: dict[str, Any]) -> None:
    from rq import Retry

    intervals = RETRY_INTERVALS.get(func_path)
    queue.enqueue(
        run_in_app,
        func_path,
        kwargs,
        description=func_path,
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
    )


def dispatch(jobs: list[tuple[str, dict[str, Any]]]) -> None:
    if not jobs:
        return
    if current_app.config.get("JOBS_REDIS_URL"):
        from redis import RedisError

        queued = 0
        try:
            queue = redis_queue()
            for func_path, kwargs in jobs:
                send_to_queue(queue, func_path, kwargs)
                queued += 1
        except RedisError as exc:
            # The transaction is committed; its e-mails are not lost because Redis is down.
            log.error("job queue unreachable (%s): running jobs in-process", type(exc).__name__)
        jobs = jobs[queued:]
    for func_path, kwargs in jobs:
        run_job(func_path, kwargs)


# Where each open savepoint started in its session's list of pending jobs.
_savepoint_marks: WeakKeyDictionary[SessionTransaction, int] = WeakKeyDictionary()


@event.listens_for(Session, "after_transaction_create")
def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _savepoint_marks[transaction] = len(session.info.get(_PENDING, []))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: its jobs wait for the outer commit
    jobs = session.info.pop(_PENDING, [])
    if jobs:
        dispatch(jobs)


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    mark = _savepoint_marks.pop(previous_transaction, None) if previous_transaction.nested else 0
    if mark is not None and _PENDING in session.info:
        del session.info[_PENDING][mark:]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed without a commit (a commit has dispatched)
        session.info.pop(_PENDING, None)


# -- periodic jobs under RQ ----------------------------------------------------------------


def periodic_job_id(func_path: str, slot: int) -> str:
    return "periodic-" + func_path.replace(".", "_") + f"-{slot}"


def schedule_periodic(queue: Queue, func_path: str, every: int, *, now: float | None = None) -> bool:
    """Schedule the next run of ``func_path`` at the next multiple of ``every`` seconds.

    The job id names the time slot, so however many workers (re)start or however many runs
    overlap, each slot is scheduled once: False when it already was.
    """
    from rq.exceptions import DuplicateJobError

    slot = int((time.time() if now is None else now) // every) + 1
    try:
        queue.enqueue_at(
            datetime.fromtimestamp(slot * every, UTC),
            run_periodic,
            func_path,
            every,
            job_id=periodic_job_id(func_path, slot),
            unique=True,
            description=func_path,
            result_ttl=0,
            failure_ttl=FAILURE_TTL,
        )
    except DuplicateJobError:
        return False
    return True


def run_periodic(func_path: str, every: int) -> None:
    """Entry point of a periodic job: book the next run first, so a failure does not end the
    chain, then run this one."""
    app = worker_app()
    schedule_periodic(redis_queue(app.config["JOBS_REDIS_URL"]), func_path, every)
    run_in_app(func_path, {})


# -- periodic jobs in-process (development server without Redis) -------------------------


class Ticker:
    """A daemon thread that runs jobs every ``every`` seconds, inside ``app``."""

    def __init__(self, app: Flask, func_paths: Iterable[str], every: float) -> None:
        self.app = app
        self.func_paths = tuple(func_paths)
        self.every = every
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobs-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for func_path in self.func_paths:
                with self.app.app_context():
                    run_job(func_path, {})
            self.ticks += 1
            self._stop.wait(self.every)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)


_ticker: Ticker | None = None
_ticker_lock = threading.Lock()


def start_ticker(app: Flask, func_paths: Iterable[str], every: float) -> Ticker | None:
    """Start this process's ticker; None when one is already running (never two)."""
    global _ticker  # noqa: PLW0603 - one ticker per process
    with _ticker_lock:
        if _ticker is not None:
            return None
        _ticker = Ticker(app, func_paths, every)
    _ticker.start()
    log.info("in-process ticker started: every %s seconds", every)
    return _ticker


def stop_ticker() -> None:
    global _ticker
    with _ticker_lock:
        ticker, _ticker = _ticker, None
    if ticker is not None:
        ticker.stop()


def running_ticker() -> Ticker | None:
    return _ticker
