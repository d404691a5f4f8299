"""Pages of the directory area (the pages follow; the blueprint registers the area's models)."""

from __future__ import annotations

from flask import Blueprint

from app.directory import models  # noqa: F401

bp = Blueprint("directory", __name__, url_prefix="/directory")
