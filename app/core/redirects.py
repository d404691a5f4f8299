"""Redirect targets supplied by the client are only followed within this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for


def safe_local_target(target: str | None, fallback_endpoint: str = "main.index") -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme:
            return target
    return url_for(fallback_endpoint)
