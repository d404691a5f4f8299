"""Migrations are the only way the schema is made: they must match the models exactly,
and every revision must go down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
import rfc8785
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.conftest import TEST_DB, make_app


@pytest.fixture
def fresh_app(database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on its own empty database, so the shared test schema is left alone."""
    if TEST_DB == "postgresql":
        url = make_url(database_uri)
        scratch = f"{url.database}_migrations"  # beside the test database, so parallel runs do not meet
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        uri = url.set(database=scratch).render_as_string(hide_password=False)
    else:
        uri = f"sqlite:///{tmp_path / 'migrations.db'}"
    application = make_app(uri)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
    if TEST_DB == "postgresql":
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


def _revisions(app: Flask) -> list[str]:
    config = app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_models_equal_upgrade_head(fresh_app: Flask) -> None:
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_revision_goes_down_and_up(fresh_app: Flask) -> None:
    revisions = _revisions(fresh_app)
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade(revision=revision)
        downgrade(revision="-1")
        upgrade(revision=revision)
    tables = set(inspect(db.engine).get_table_names())
    assert {"user_account", "agency", "member_state", "audit_entry"} <= tables
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def test_reference_countries_are_loaded(fresh_app: Flask) -> None:
    upgrade()
    with db.engine.connect() as conn:
        eu = conn.execute(text("SELECT count(*) FROM member_state WHERE is_eu")).scalar_one()
        partners = conn.execute(text("SELECT count(*) FROM member_state WHERE NOT is_eu")).scalar_one()
    assert eu == 27 and partners >= 20


def test_revision_files_are_date_prefixed(fresh_app: Flask) -> None:
    versions = Path(fresh_app.root_path).parent / "migrations" / "versions"
    names = [p.name for p in versions.glob("*.py")]
    assert names and all(name[:4].isdigit() and name[4] == "_" for name in names)


def test_no_pending_model_changes_via_cli(fresh_app: Flask) -> None:
    upgrade()
    config = fresh_app.extensions["migrate"].migrate.get_config()
    command.check(config)  # raises if autogenerate would write anything


def test_upgrading_a_database_that_holds_data(fresh_app: Flask) -> None:
    """An installation with agencies, a country keeping case data 20 years and an audit
    trail upgrades to the newest schema: tables rebuilt in batch mode on SQLite keep the
    rows pointing at them, audit retention covers case retention, old entries still verify."""
    from app.audit.services import verify_chain

    upgrade(revision="20261129_case_list_indexes")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO agency (name, member_state_code, kind, active, created_at, updated_at, version)"
                " VALUES ('Police', 'FR', 'police', true, '2026-01-01', '2026-01-01', 1)"
            )
        )
        conn.execute(text("UPDATE member_state SET retention_months = 240 WHERE code = 'FR'"))
        # an entry as the earlier code wrote it: details in a column, hash over RFC 8785 JSON
        fields = {
            "seq": 1,
            "occurred_at": "2026-01-01T10:00:00.000000Z",
            "actor_id": None,
            "actor_agency_id": None,
            "action": "demo.loaded",
            "object_type": None,
            "object_id": None,
            "request_id": "cli",
            "client_address": None,
            "details": {"users": 3},
        }
        entry_hash = sha256(("0" * 64).encode() + rfc8785.dumps(fields)).hexdigest()
        conn.execute(
            text(
                "INSERT INTO audit_entry (seq, occurred_at, action, request_id, details, prev_hash, entry_hash)"
                " VALUES (1, '2026-01-01 10:00:00', 'demo.loaded', 'cli', :details, :prev, :hash)"
            ),
            {"details": '{"users": 3}', "prev": "0" * 64, "hash": entry_hash},
        )
        conn.execute(
            text("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 1, :hash)"), {"hash": entry_hash}
        )
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM agency")).scalar_one() == 1
        months = conn.execute(
            text("SELECT retention_months, audit_retention_months FROM member_state WHERE code = 'FR'")
        ).one()
        assert tuple(months) == (240, 240)
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # back on
    result = verify_chain()
    assert result.ok and result.checked == 1  # the old entry's payload was rebuilt byte for byte
