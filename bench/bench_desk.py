"""The focal point's cross-border desk (issue 5) with many referrals: page time in-process,
SQL statements, and the query plans of its reads.

Run:
  .venv/bin/python bench/bench_desk.py --database-url postgresql://postgres@127.0.0.1:5432/bench_desk
  .venv/bin/python bench/bench_desk.py --referrals 5000        # SQLite, a quick check of the script

The database is emptied first. --referrals in all (default 100,000): --cross-border of them
(default 10%) between France and Romania, half each way, in every stage with a realistic
mix (most ended, some at a focal point, some with the service), the rest domestic French
referrals that the desk must not read. The measured user is the French focal point.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from config import database_url

SEED = 11
BATCH = 5000
DESK = "/referrals/desk"
# Cross-border status mix (percent), with the stage times each implies.
MIX = {
    "focal_point_review": 4,
    "returned": 1,
    "focal_point_routing": 4,
    "sent": 5,
    "accepted": 5,
    "in_progress": 5,
    "completed": 50,
    "declined": 14,
    "expired": 6,
    "withdrawn": 6,
}
AT_FOCAL_POINT = ("focal_point_review", "focal_point_routing")
SERVICE_STAGES = ("sent", "accepted", "in_progress", "completed")


def setup(app: Any) -> dict[str, Any]:
    """Agencies, focal points of FR and RO, a service on each side, the measured user."""
    from app.accounts.models import MemberState
    from app.accounts.roles import AgencyKind, Role
    from app.extensions import db
    from tests.factories import make_agency, make_organization, make_service, make_user

    with app.app_context():
        world: dict[str, Any] = {}
        for country in ("FR", "RO"):
            focal = make_agency(country, AgencyKind.NATIONAL_FOCAL_POINT, name=f"Focal point {country}")
            db.session.get(MemberState, country).focal_point_agency_id = focal.id
            police = make_agency(country, AgencyKind.POLICE, name=f"Police {country}")
            shelter = make_agency(country, AgencyKind.SHELTER, name=f"Shelter {country}")
            service = make_service(make_organization(shelter))
            world[country] = {
                "focal": focal.id,
                "police": police.id,
                "officer": make_user(Role.FRONTLINE, police, email=f"officer@{country.lower()}.example").id,
                "service": service.id,
                "organization": service.organization_id,
                "shelter": shelter.id,
            }
        db.session.commit()
        world["user"] = make_user(Role.FOCAL_POINT, db.session.get(type(focal), world["FR"]["focal"])).id
        return world


def rows_for(n: int, world: dict[str, Any], rng: random.Random, cross_border: float, ring: Any) -> dict[str, list]:
    from app.core.crypto import associated_data, encrypt
    from app.core.db import utcnow

    now = utcnow()
    rows: dict[str, list] = {"person": [], "case": [], "referral": []}

    def seal(value: str, table: str, column: str, row_id: str) -> str:
        return encrypt(value, associated_data(table, column, row_id), ring)

    for _ in range(n):
        abroad = rng.random() < cross_border
        origin, destination = ("FR", "RO") if rng.random() < 0.5 else ("RO", "FR")
        if not abroad:
            origin = destination = "FR"
        pid, cid, rid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        status = rng.choices(list(MIX), weights=list(MIX.values()))[0] if abroad else "completed"
        created = now - timedelta(days=rng.uniform(0, 700)) if status not in AT_FOCAL_POINT else now
        start = now - timedelta(hours=rng.uniform(0, 30)) if status in AT_FOCAL_POINT else created
        t: dict[str, Any] = dict.fromkeys(
            ("sent_at", "due_at", "submitted_at", "approved_at", "routed_at", "accepted_at", "ended_at")
        )
        if status != "returned":
            t["sent_at"], t["due_at"] = start, start + timedelta(hours=24)
        if abroad:
            t["submitted_at"] = start
            if status not in ("focal_point_review", "returned"):
                t["approved_at"] = start
            if status in SERVICE_STAGES or (status in ("expired", "withdrawn") and rng.random() < 0.5):
                t["routed_at"] = start
        if status in ("accepted", "in_progress", "completed"):
            t["accepted_at"] = start + timedelta(hours=2)
        if status in ("completed", "declined", "expired", "withdrawn"):
            t["ended_at"] = start + timedelta(days=3)
        rows["person"].append({"id": pid, "member_state_code": origin, "anonymous": False, "created_at": created})
        rows["case"].append(
            {"id": cid, "reference": f"{origin}-B{uuid.uuid4().hex[:12]}", "member_state_code": origin}
            | {"owner_agency_id": world[origin]["police"], "person_id": pid, "status": "open"}
            | {"presumed_child": False, "level": 1, "opened_at": created, "updated_at": now, "version": 1}
        )
        target = world[destination]
        rows["referral"].append(
            t
            | {"id": rid, "case_id": cid, "service_id": target["service"]}
            | {"recipient_organization_id": target["organization"], "recipient_agency_id": target["shelter"]}
            | {"sender_agency_id": world[origin]["police"], "sender_user_id": world[origin]["officer"]}
            | {"member_state_code": destination, "origin_state_code": origin if abroad else None}
            | {"status": status, "urgency": "urgent", "shared_parts": ["needs", "profile"]}
            | {"legal_basis": "vital_interest", "consent_id": None, "pseudonymised": False}
            | {"purpose_sealed": seal("Safe place", "referral", "purpose", rid)}
            | {"justification_sealed": seal("Immediate danger tonight", "referral", "justification", rid)}
            | {
                "return_note_sealed": seal("Add the languages", "referral", "return_note", rid)
                if status == "returned"
                else None
            }
            | {"decline_reason": "no_capacity" if status == "declined" else None}
            | {"outcome": "got_help" if status == "completed" else None}
            | {"created_at": created, "version": 1}
        )
    return rows


def generate(app: Any, world: dict[str, Any], referrals: int, cross_border: float) -> None:
    from app.cases.models import Case, Person
    from app.core.crypto import keyring
    from app.extensions import db
    from app.referrals.models import Referral

    rng = random.Random(SEED)
    with app.app_context():
        ring = keyring()
        for first in range(0, referrals, BATCH):
            rows = rows_for(min(BATCH, referrals - first), world, rng, cross_border, ring)
            db.session.execute(insert(Person), rows["person"])
            db.session.execute(insert(Case), rows["case"])
            db.session.execute(insert(Referral), rows["referral"])
            db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def measure(app: Any, user_id: int, repeats: int) -> tuple[list[float], int, str, list[str]]:
    """Page times over ``repeats`` requests, then one request's SQL statements and the plans
    of its reads of ``referral``."""
    from app.accounts.models import User
    from app.extensions import db
    from tests.factories import sign_in_directly

    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, db.session.get(User, user_id))
        engine = db.engine
    assert client.get(DESK).status_code == 200
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        body = client.get(DESK).get_data(as_text=True)
        times.append(time.perf_counter() - started)
    statements: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statements.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(DESK)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SELECT") and "FROM referral" in statement:
                lines = [
                    str(r[0]) if postgres else str(r[-1]) for r in conn.exec_driver_sql(prefix + statement, parameters)
                ]
                plans.append("\n".join(lines))
    return times, len(statements), body, plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--cross-border", type=float, default=0.10)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    uri = database_url(args.database_url) or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if uri.startswith("postgresql"):
        from tests.conftest import reset_postgresql_schema

        reset_postgresql_schema(uri)
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "TESTING": False, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        upgrade()
    world = setup(app)
    started = time.perf_counter()
    generate(app, world, args.referrals, args.cross_border)
    generation = time.perf_counter() - started
    times, statements, body, plans = measure(app, world["user"], args.repeats)
    ordered = sorted(times)
    rows = body.count('<td><a href="/referrals/')
    print(f"\n### Cross-border desk on {make_url(uri).get_backend_name()}, {args.referrals:,} referrals\n")
    print(
        f"{args.cross_border:.0%} cross-border (France <-> Romania), generated in {generation:,.0f} s; "
        f"{os.cpu_count()} cores, 1-minute load average {os.getloadavg()[0]:.1f}.\n"
    )
    print("| page | rows shown | SQL statements | p50 | p95 | mean |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| `GET {DESK}` (in-process, rendered) | {rows} | {statements} | {ordered[len(ordered) // 2] * 1e3:.0f} ms "
        f"| {ordered[int(len(ordered) * 0.95)] * 1e3:.0f} ms | {statistics.mean(times) * 1e3:.0f} ms |"
    )
    print("\n#### Query plans of the desk's reads\n")
    for plan in plans:
        warning = "SEQUENTIAL SCAN ON referral\n" if "Seq Scan on referral" in plan else ""
        print(f"```\n{warning}{plan}\n```\n")


if __name__ == "__main__":
    main()
