"""Pages of the notifications area (the pages follow; the blueprint registers the area's models)."""

from __future__ import annotations

from flask import Blueprint

from app.notifications import models  # noqa: F401

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
