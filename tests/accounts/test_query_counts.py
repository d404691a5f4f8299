"""List pages run a fixed number of SQL statements, whatever the number of rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.accounts.models import Agency
from app.accounts.roles import AgencyKind, Role
from app.extensions import db
from tests.factories import make_agency, make_user, new_totp_secret, sign_in_directly


@contextmanager
def count_statements(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def listener(*args: object) -> None:
        statements.append(str(args[2]))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _statements_for(app: Flask, client: FlaskClient, url: str) -> int:
    with count_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.AGENCY_ADMIN, "/admin/users"),
        (Role.SYSTEM_ADMIN, "/admin/users"),
        (Role.SYSTEM_ADMIN, "/admin/agencies"),
        (Role.SYSTEM_ADMIN, "/admin/member-states"),
    ],
)
def test_list_pages_have_constant_statement_count(app: Flask, client: FlaskClient, role: Role, url: str) -> None:
    with app.app_context():
        home = make_agency("FR", AgencyKind.POLICE)
        actor = make_user(role, home, totp_secret=new_totp_secret())
        sign_in_directly(client, actor)
        make_user(Role.AGENCY_ADMIN, home)
    few = _statements_for(app, client, url)
    with app.app_context():
        for n in range(15):
            agency = make_agency("DE" if n % 2 else "FR", AgencyKind.SHELTER)
            make_user(Role.AGENCY_ADMIN, agency if role == Role.SYSTEM_ADMIN else db.session.get(Agency, home.id))
    many = _statements_for(app, client, url)
    assert many == few, f"{url}: {few} statements with few rows, {many} with many"
    assert few <= 6


def test_case_pages_have_constant_statement_count(app: Flask, client: FlaskClient) -> None:
    from app.cases.models import Case
    from app.cases.work import add_note, add_task
    from app.core.db import utcnow
    from tests.factories import make_case

    with app.app_context():
        agency = make_agency("FR", AgencyKind.POLICE)
        actor = make_user(Role.FRONTLINE, agency)
        first = make_case(agency)
        sign_in_directly(client, actor)
    client.get("/cases/")  # warm-up: the first audit entry also creates the chain head
    list_few = _statements_for(app, client, "/cases/")
    detail_few = _statements_for(app, client, f"/cases/{first.id}")
    with app.app_context():
        for _ in range(12):
            make_case(db.session.get(Agency, agency.id))
        case = db.session.get(Case, first.id)
        user = db.session.get(type(actor), actor.id)
        for n in range(5):
            add_note(
                user,
                case,
                f"note {n}",
                __import__("app.cases.models", fromlist=["NoteVisibility"]).NoteVisibility.AGENCY,
            )
            add_task(user, case, f"task {n}", utcnow().date())
        db.session.commit()
    assert _statements_for(app, client, "/cases/") == list_few
    assert _statements_for(app, client, f"/cases/{first.id}") == detail_few
