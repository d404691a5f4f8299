"""Work that runs on a clock: the deadline tick (reminders, expiry, escalation).

One function, run three ways: ``flask referrals tick`` (from cron), a chain of scheduled
RQ jobs started by ``flask jobs worker``, and a ticker thread under the development server
(``flask run`` with ``JOBS_INPROCESS_TICK_SECONDS`` and no Redis). It is idempotent, so
overlapping runs are harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from flask import Flask

from app.core import jobs

DEADLINE_TICK = "app.periodic.deadline_tick"
PERIODIC_JOBS = (DEADLINE_TICK,)


@dataclass(frozen=True)
class TickCounts:
    """How many referrals a tick changed: counts only, never which ones."""

    reminded: int
    expired: int
    skipped: int


def deadline_tick() -> TickCounts:
    """Remind, expire and escalate what is due now, and commit (e-mails go after the commit)."""
    from app.core.db import utcnow
    from app.extensions import db
    from app.referrals.deadlines import check_deadlines

    try:
        result = check_deadlines(utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return TickCounts(reminded=len(result.reminded), expired=len(result.expired), skipped=result.skipped)


def serving_with_flask_run(ctx: click.Context | None) -> bool:
    """True in the process that serves ``flask run``: not in other commands (``flask db
    upgrade``...), not under gunicorn, and not in the watcher process of the reloader."""
    from flask.cli import FlaskGroup
    from flask.helpers import get_debug_flag
    from werkzeug.serving import is_running_from_reloader

    if ctx is None or ctx.command.name != "run" or ctx.parent is None:
        return False
    if not isinstance(ctx.parent.command, FlaskGroup):
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        reload = get_debug_flag()
    return not reload or is_running_from_reloader()


def dev_ticker_wanted(config: dict[str, Any], ctx: click.Context | None) -> bool:
    return bool(
        config.get("JOBS_INPROCESS_TICK_SECONDS")
        and not config.get("TESTING")
        and not config.get("JOBS_REDIS_URL")
        and serving_with_flask_run(ctx)
    )


def start_dev_ticker(app: Flask) -> jobs.Ticker | None:
    """Start the in-process ticker when this process is the development server."""
    if not dev_ticker_wanted(app.config, click.get_current_context(silent=True)):
        return None
    return jobs.start_ticker(app, PERIODIC_JOBS, float(app.config["JOBS_INPROCESS_TICK_SECONDS"]))
