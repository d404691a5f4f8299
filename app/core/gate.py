"""The login gate: deny by default.

Every endpoint is either marked ``@public`` or declares a permission with ``@requires``.
An endpoint that does neither is refused for everyone; a test walks ``app.url_map``
and fails on it before it can ship.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_login import current_user

from app.core.permissions import PUBLIC_ATTR, REQUIRED_PERMISSION_ATTR

PUBLIC_ENDPOINTS = frozenset({"static"})


def endpoint_rule(app: Flask, endpoint: str) -> tuple[bool, str | None]:
    """(is_public, required permission) for an endpoint."""
    if endpoint in PUBLIC_ENDPOINTS:
        return True, None
    view = app.view_functions.get(endpoint)
    if view is None:
        return False, None
    return bool(getattr(view, PUBLIC_ATTR, False)), getattr(view, REQUIRED_PERMISSION_ATTR, None)


def init_gate(app: Flask) -> None:
    from app.accounts.roles import has_permission
    from app.core.errors import PermissionDenied
    from app.extensions import login_manager

    @app.before_request
    def _gate():  # type: ignore[no-untyped-def]
        endpoint = request.endpoint
        if endpoint is None:  # 404 / 405: let Werkzeug answer
            return None
        is_public, permission = endpoint_rule(current_app, endpoint)
        if is_public:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if permission is None or not has_permission(current_user.role, permission):
            raise PermissionDenied()  # recorded in the audit trail by the error handler
        return None
