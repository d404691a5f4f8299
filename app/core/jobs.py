"""Background jobs: queued in the caller's transaction, dispatched only once it commits.

With ``JOBS_REDIS_URL`` set (production: the same Redis as rate limits), jobs go to an RQ
queue and ``flask jobs worker`` runs them. Without it (the embedded default and tests), they
run in-process right after the commit. A job is named by its dotted path and takes plain
keyword arguments (never an ORM object), so both ways run the same code.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUE_NAME = "default"
_PENDING = "pending_jobs"


def enqueue(func_path: str, **kwargs: Any) -> None:
    """Queue ``func_path(**kwargs)`` to run once the current transaction commits."""
    from app.extensions import db

    db.session.info.setdefault(_PENDING, []).append((func_path, kwargs))


def resolve(func_path: str) -> Any:
    module_name, _, name = func_path.rpartition(".")
    if not module_name.startswith("app."):
        raise ValueError("jobs must live in the app package")
    return getattr(importlib.import_module(module_name), name)


def run_job(func_path: str, kwargs: dict[str, Any]) -> None:
    """Run one job in-process; a failure is logged by type only and never reaches the user."""
    try:
        resolve(func_path)(**kwargs)
    except Exception as exc:
        log.error("job %s failed: %s", func_path, type(exc).__name__)


_WORKER_APP: Any = None


def run_in_app(func_path: str, kwargs: dict[str, Any]) -> None:
    """Entry point of a job in an RQ worker: the same code, inside an application context."""
    global _WORKER_APP  # noqa: PLW0603 - one app per worker process
    if _WORKER_APP is None:
        from app import create_app

        _WORKER_APP = create_app()
    with _WORKER_APP.app_context():
        resolve(func_path)(**kwargs)


def redis_queue() -> Any:
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE_NAME, connection=Redis.from_url(current_app.config["JOBS_REDIS_URL"]))


def dispatch(jobs: list[tuple[str, dict[str, Any]]]) -> None:
    if not jobs:
        return
    if current_app.config.get("JOBS_REDIS_URL"):
        queue = redis_queue()
        for func_path, kwargs in jobs:
            queue.enqueue(run_in_app, func_path, kwargs, result_ttl=0, failure_ttl=7 * 24 * 3600)
        return
    for func_path, kwargs in jobs:
        run_job(func_path, kwargs)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    jobs = session.info.pop(_PENDING, [])
    if jobs:
        dispatch(jobs)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
