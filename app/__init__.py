"""Application factory."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from config import config_for


def create_app(config: str | dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` is an environment name or a mapping of overrides
    applied on top of the testing configuration."""
    app = Flask(__name__, instance_relative_config=False)
    if isinstance(config, dict):
        app.config.from_mapping(config_for("testing").prepare())
        app.config.from_mapping(config)
    else:
        app.config.from_mapping(config_for(config).prepare())
    if app.config.get("TRUSTED_PROXY_COUNT"):
        hops = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Flask-Limiter logs each breach with its key (a client address) at INFO: keep it out.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)

    from app.core import jobs  # noqa: F401 - registers the after-commit dispatch of background jobs
    from app.core.request_context import init_request_context

    init_request_context(app)  # first: every later step, CSRF included, has a request id
    _init_extensions(app)
    _register_blueprints(app)

    from app.core.errors import init_error_handlers
    from app.core.gate import init_gate
    from app.core.http_headers import init_security_headers

    init_gate(app)
    init_security_headers(app)
    init_error_handlers(app)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    _register_template_helpers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app.accounts import sessions as user_sessions
    from app.accounts.models import User
    from app.core.i18n import select_locale
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        from app.core.db import configure_sqlite

        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = None
    login_manager.session_protection = None

    @login_manager.request_loader
    def _load_user_from_session_cookie(_request: Any) -> User | None:
        token = session.get("sid")
        if not token:
            return None
        record = user_sessions.resolve(
            token,
            idle=app.config["SESSION_IDLE_TIMEOUT"],
            lifetime=app.config["SESSION_ABSOLUTE_LIFETIME"],
        )
        db.session.commit()  # keep the touch (or the end of a timed-out session)
        if record is None:
            session.pop("sid", None)
            session["session_ended"] = True
            return None
        user = record.user
        user.current_session = record
        return user

    @login_manager.unauthorized_handler
    def _unauthorized():  # type: ignore[no-untyped-def]
        from flask import redirect, url_for

        if request.method == "GET":
            return redirect(url_for("accounts.sign_in", next=request.path))
        return redirect(url_for("accounts.sign_in"))


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import admin, auth, profile
    from app.audit.views import bp as audit_bp
    from app.audit.views import emergency_bp
    from app.cases.views import bp as cases_bp
    from app.directory.views import bp as directory_bp
    from app.identification.record_views import bp as identifications_bp
    from app.identification.views import bp as identification_bp
    from app.main.views import bp as main_bp
    from app.notifications.views import bp as notifications_bp
    from app.privacy.views import bp as privacy_bp
    from app.referrals.views import bp as referrals_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(profile.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(identification_bp)
    app.register_blueprint(identifications_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(emergency_bp)

    from app.federation.views import api as federation_api
    from app.federation.views import bp as federation_bp

    app.register_blueprint(federation_bp)
    app.register_blueprint(federation_api)


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from app import accounts as perms
    from app import audit as audit_perms
    from app import cases as case_perms
    from app import directory as directory_perms
    from app import federation as federation_perms
    from app import referrals as referral_perms
    from app.accounts.roles import Role, has_permission
    from app.cases.vocabulary import EVENT_TITLES
    from app.core.i18n import LANGUAGE_NAMES, country_name, language_name
    from app.identification.amendments import AMENDABLE_TITLES
    from app.identification.assessment import ChildReason

    @app.template_filter("indicator_label")
    def _indicator_label(indicator_id: str, catalogue: Any, language: str) -> str:
        indicator = catalogue.indicators.get(indicator_id)
        return str(indicator.label.in_language(language)) if indicator else indicator_id

    @app.template_filter("country_label")
    def _country_label(code: str) -> str:
        return country_name(code)

    @app.template_filter("child_reason_title")
    def _child_reason_title(value: str) -> str:
        return str(ChildReason(value).title)

    @app.template_filter("fromjson")
    def _fromjson(value: str) -> Any:
        return json.loads(value)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        from flask_login import current_user

        def can(permission: Any) -> bool:
            return bool(current_user.is_authenticated and has_permission(current_user.role, permission.name))

        return {
            "can": can,
            "country_name": country_name,
            "language_name": language_name,
            "language_names": LANGUAGE_NAMES,
            "languages": app.config["LANGUAGES"],
            "current_locale": str(get_locale() or "en"),
            "Role": Role,
            "perms": perms,
            "case_perms": case_perms,
            "audit_perms": audit_perms,
            "directory_perms": directory_perms,
            "referral_perms": referral_perms,
            "federation_perms": federation_perms,
            "event_titles": EVENT_TITLES,
            "amendable_titles": AMENDABLE_TITLES,
        }
