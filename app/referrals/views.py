"""Pages of the referrals area (the pages follow; the blueprint registers the area's models)."""

from __future__ import annotations

from flask import Blueprint

from app.referrals import models  # noqa: F401

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
