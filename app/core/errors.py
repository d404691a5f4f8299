"""Domain errors with user-safe, translatable messages, mapped to HTTP in one place."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose. ``message`` is shown to users."""

    status_code = 400
    default_message = _l("The request could not be completed.")

    def __init__(self, message: object | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class NotFound(DomainError):
    status_code = 404
    default_message = _l("The page you asked for does not exist or you may not see it.")


class PermissionDenied(DomainError):
    status_code = 403
    default_message = _l("You do not have permission to do this.")


class ValidationFailed(DomainError):
    status_code = 400


class Conflict(DomainError):
    status_code = 409
    default_message = _l("Someone else changed this record. Reload the page and try again.")


ERROR_TITLES = {
    400: _l("The request could not be understood"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("The request is too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}

ERROR_MESSAGES = {
    400: _l("The request could not be understood. Go back, reload the page and try again."),
    403: _l("You do not have permission to see this page."),
    404: _l("The page you asked for does not exist or you may not see it."),
    405: _l("This page cannot be used in that way."),
    409: _l("Someone else changed this record. Reload the page and try again."),
    413: _l("What you sent is larger than this service accepts."),
    429: _l("Too many attempts. Wait a few minutes and try again."),
    500: _l("An unexpected error happened. Nothing was saved. Quote the error reference below if you contact support."),
}


def render_error(status: int, message: object | None = None) -> tuple[str, int]:
    known = status if status in ERROR_TITLES else 500
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=ERROR_TITLES[known],
            message=message or ERROR_MESSAGES[known],
            error_id=g.get("request_id"),
        ),
        status,
    )


def init_error_handlers(app: Flask) -> None:
    from app.extensions import db

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        if isinstance(exc, PermissionDenied | NotFound):
            # A refusal of an object (out of the actor's scope, or absent) is recorded too.
            from flask_login import current_user

            from app.audit.services import record

            actor = current_user._get_current_object() if current_user.is_authenticated else None
            record(
                "auth.permission_denied" if isinstance(exc, PermissionDenied) else "auth.object_refused",
                actor=actor,
                details={
                    "endpoint": request.endpoint or "",
                    "args": {k: str(v)[:64] for k, v in (request.view_args or {}).items()},
                },
            )
            db.session.commit()
        return render_error(exc.status_code, exc.message)

    @app.errorhandler(StaleDataError)
    def _stale(_exc: StaleDataError):  # type: ignore[no-untyped-def]
        # Optimistic locking: someone else changed the row between read and write.
        db.session.rollback()
        return render_error(409)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        from flask_babel import gettext as _

        from app.audit.services import record

        record(
            "security.csrf_failure",
            actor=None,
            details={"endpoint": request.endpoint or "", "reason": str(exc.description)[:80]},
        )
        db.session.commit()

        return render_error(400, _("This form has expired or was sent twice. Go back, reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        db.session.rollback()
        status = exc.code or 500
        if status == 429:
            from app.audit.services import record_throttled

            record_throttled(endpoint=request.endpoint)
            db.session.commit()
        return render_error(status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        # Log the type and the frames, never the exception text: database errors
        # quote the values they were given, and those can be personal data.
        log.error(
            "unhandled %s at %s (request %s)\n%s",
            type(exc).__name__,
            request.endpoint,
            g.get("request_id"),
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        if app.debug:
            raise exc
        return render_error(500)
