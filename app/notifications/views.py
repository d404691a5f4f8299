"""The notification centre: the signed-in user's own notifications, and marking them read.

Every user has one, so every page uses the self-service permission; a notification of
another user is not found (404), never shown or changed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app import accounts as perms
from app.core.permissions import requires
from app.core.redirects import safe_local_target
from app.extensions import db
from app.notifications import services  # also registers the area's models
from app.notifications.vocabulary import NOTIFICATION_TITLES

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def unread_notifications() -> int:
    """How many unread notifications the signed-in user has (one query per request, on use)."""
    if not current_user.is_authenticated:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = services.unread_count(current_user)
    count: int = g.unread_notifications
    return count


@bp.app_context_processor
def _notification_helpers() -> dict[str, Any]:
    return {"unread_notifications": unread_notifications}


@bp.route("/")
@requires(perms.SELF_SERVICE)
def index() -> ResponseReturnValue:
    notifications = services.latest_for(current_user)
    return render_template(
        "notifications/index.html",
        notifications=notifications,
        titles=NOTIFICATION_TITLES,
        limit=services.CENTRE_SIZE,
        unread=unread_notifications(),
    )


@bp.route("/<int:notification_id>/read", methods=["POST"])
@requires(perms.SELF_SERVICE)
def mark_read(notification_id: int) -> ResponseReturnValue:
    notification = services.mark_read(current_user, notification_id)
    link = notification.link
    db.session.commit()
    return redirect(safe_local_target(link, "notifications.index"))


@bp.route("/read-all", methods=["POST"])
@requires(perms.SELF_SERVICE)
def mark_all_read() -> ResponseReturnValue:
    services.mark_all_read(current_user)
    db.session.commit()
    flash(_("All your notifications are marked as read."), "success")
    return redirect(url_for("notifications.index"))
