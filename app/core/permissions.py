"""Permission registry and the ``@requires`` view decorator.

Each domain area declares its permissions as data in its package ``__init__``; the
role -> permission map lives in ``app.accounts.roles``. The login gate
(``app.core.gate``) refuses any endpoint that is neither public nor decorated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import LazyString

F = TypeVar("F", bound=Callable[..., Any])

REQUIRED_PERMISSION_ATTR = "required_permission"
PUBLIC_ATTR = "is_public"


@dataclass(frozen=True)
class Permission:
    name: str
    title: LazyString


REGISTRY: dict[str, Permission] = {}


def declare(*permissions: Permission) -> None:
    for permission in permissions:
        if permission.name in REGISTRY:
            raise ValueError(f"permission {permission.name} declared twice")
        REGISTRY[permission.name] = permission


def requires(permission: Permission) -> Callable[[F], F]:
    """Mark a view as needing ``permission``; the gate enforces it before the view runs."""
    if permission.name not in REGISTRY:
        raise ValueError(f"undeclared permission {permission.name}")

    def decorator(view: F) -> F:
        setattr(view, REQUIRED_PERMISSION_ATTR, permission.name)
        return view

    return decorator


def public(view: F) -> F:
    """Mark a view as reachable without signing in. Keep this list short."""
    setattr(view, PUBLIC_ATTR, True)
    return view
