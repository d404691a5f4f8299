"""Test fixtures: one schema per run, built by the migrations; tables emptied after each test.

TEST_DB selects the database: ``sqlite`` (default, a file under pytest's tmp dir) or
``postgresql`` (TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test).
Under CI=true a test that needs PostgreSQL, Redis or Chromium fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db, limiter
from config import database_url

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_DB = os.environ.get("TEST_DB", "sqlite")
PG_URL = database_url(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

KEEP_TABLES = {"member_state", "alembic_version"}


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, not skipped)")
    pytest.skip(reason)


def pytest_report_header() -> str:
    return f"database under test: {TEST_DB}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgresql`` belong to the PostgreSQL pass only."""
    if TEST_DB == "postgresql":
        return
    selected = [item for item in items if item.get_closest_marker("postgresql") is None]
    deselected = [item for item in items if item.get_closest_marker("postgresql") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true nothing may be skipped: a skip would hide a missing service or browser."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; every test must run in CI.", red=True)


def reset_postgresql_schema(url: str) -> None:
    """Drop and recreate the public schema (tests and benchmarks start from nothing)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DB == "postgresql":
        assert PG_URL is not None
        try:
            reset_postgresql_schema(PG_URL)
        except OperationalError:
            unavailable("PostgreSQL is not reachable at TEST_DATABASE_URL")
        return PG_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def make_app(uri: str, **overrides: Any) -> Flask:
    settings: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False}
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture(scope="session")
def app(database_uri: str) -> Iterator[Flask]:
    from flask_migrate import upgrade

    application = make_app(database_uri)
    with application.app_context():
        upgrade()
    yield application


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        db.session.remove()
        empty_tables()
        limiter.reset()


def empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The audit tables' append-only triggers refuse this reset; replica mode lifts
            # triggers for this one transaction.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text(
                "UPDATE member_state SET focal_point_agency_id = NULL, retention_months = NULL, version = 1,"
                " reflection_period_days = 30, decision_working_days = 5, holiday_subdivision = NULL,"
                " audit_retention_months = 120"
            )
        )
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An application context for service-level tests."""
    with app.test_request_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
