"""Per-request origin (request id, client address) for audit and logs.

Services must not read ``flask.request``; the request layer stores what the audit
trail needs here, and code running outside a request (CLI, jobs) gets a neutral value.
"""

from __future__ import annotations

import contextvars
import secrets
from dataclasses import dataclass

from flask import Flask, g, request

from app.core.db import writes_expected


@dataclass(frozen=True)
class Origin:
    request_id: str
    client_address: str | None


CLI_ORIGIN = Origin(request_id="cli", client_address=None)
_current: contextvars.ContextVar[Origin] = contextvars.ContextVar("origin", default=CLI_ORIGIN)


def current_origin() -> Origin:
    return _current.get()


def client_address() -> str:
    """Client address after ProxyFix has applied the trusted proxy hops."""
    return request.remote_addr or "unknown"


def init_request_context(app: Flask) -> None:
    @app.before_request
    def _set_origin() -> None:
        origin = Origin(request_id=secrets.token_hex(8), client_address=request.remote_addr)
        g.origin_token = _current.set(origin)
        g.writes_token = writes_expected.set(True)
        g.request_id = origin.request_id

    @app.teardown_request
    def _reset_origin(_exc: BaseException | None) -> None:
        token = g.pop("origin_token", None)
        if token is not None:
            _current.reset(token)
        writes_token = g.pop("writes_token", None)
        if writes_token is not None:
            writes_expected.reset(writes_token)

    @app.after_request
    def _request_id_header(response):  # type: ignore[no-untyped-def]
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response
