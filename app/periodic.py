"""Work that runs on a clock: the deadline tick (reminders, expiry, escalation) and the
audit tick (signed checkpoints, full verification of the chain).

Each is one function, run three ways: ``flask referrals tick`` / ``flask audit tick`` (from cron), a chain of scheduled
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
AUDIT_TICK = "app.periodic.audit_tick"
FEDERATION_TICK = "app.periodic.federation_tick"
PERIODIC_JOBS = (DEADLINE_TICK, AUDIT_TICK, FEDERATION_TICK)


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


def federation_tick() -> str:
    """Deliver the federation packages that are due (retries after back-off); a summary."""
    from app.core.db import utcnow
    from app.federation import identity, transport

    if not identity.enabled():
        return "federation not configured"
    counts = transport.deliver_due(utcnow())
    return f"{counts.delivered} delivered, {counts.retrying} to retry, {counts.refused} refused by the peer"


@dataclass(frozen=True)
class AuditTickOutcome:
    checkpoint_seq: int | None
    verified: int | None  # entries checked by a full verification, if one ran
    broken: bool
    first_broken_seq: int | None = None

    def summary(self) -> str:
        parts = []
        if self.checkpoint_seq is not None:
            parts.append(f"checkpoint signed at entry {self.checkpoint_seq}")
        if self.broken:
            parts.append(f"verification FAILED at entry {self.first_broken_seq}")
        elif self.verified is not None:
            parts.append(f"{self.verified} entries verified")
        return "Audit: " + (", ".join(parts) if parts else "nothing due") + "."


def audit_tick() -> AuditTickOutcome:
    """Sign the chain head when a checkpoint is due; verify the whole chain when due and,
    if it holds, leave a "verified" checkpoint exports can start from. A broken chain is
    recorded (and logged) with the first broken entry, so supervisors see it at once."""
    import logging

    from flask import current_app
    from sqlalchemy import select

    from app.audit.models import AuditCheckpoint
    from app.audit.services import checkpoint_due, issue_checkpoint, record, verify_chain
    from app.core.db import expecting_writes, utcnow
    from app.extensions import db

    now = utcnow()
    config = current_app.config
    try:
        checkpoint_seq = None
        if checkpoint_due(now, int(config["AUDIT_CHECKPOINT_MINUTES"])):
            checkpoint = issue_checkpoint("periodic", now=now)
            checkpoint_seq = checkpoint.seq if checkpoint else None
        db.session.commit()
        last_verified = db.session.execute(
            select(AuditCheckpoint.issued_at)
            .where(AuditCheckpoint.purpose == "verified")
            .order_by(AuditCheckpoint.issued_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if (
            last_verified is not None
            and (now - last_verified).total_seconds() < int(config["AUDIT_VERIFY_HOURS"]) * 3600
        ):
            return AuditTickOutcome(checkpoint_seq, None, False)
        with expecting_writes(False):  # a long read: on SQLite, without holding the write lock
            db.session.rollback()
            result = verify_chain()
            db.session.rollback()  # verification only read; start clean for what it writes
        if not result.ok:
            logging.getLogger(__name__).error(
                "audit chain broken at entry %s: %s", result.first_broken_seq, result.reason
            )
            record(
                "audit.verification_failed",
                actor=None,
                details={"first_broken_seq": result.first_broken_seq, "reason": result.reason},
            )
            db.session.commit()
            return AuditTickOutcome(checkpoint_seq, result.checked, True, result.first_broken_seq)
        if result.last_seq:
            issue_checkpoint("verified", now=now, at=(result.last_seq, result.last_hash))
        db.session.commit()
        return AuditTickOutcome(checkpoint_seq, result.checked, False)
    except Exception:
        db.session.rollback()
        raise


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
