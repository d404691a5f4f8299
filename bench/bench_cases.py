"""Case benchmarks: generate N persons/cases/identifications, then measure "My cases",
a case page and identification submission, in-process through the WSGI app.

Run:
  .venv/bin/python bench/bench_cases.py --database-url postgresql://postgres@127.0.0.1:5432/bench --cases 10000
  .venv/bin/python bench/bench_cases.py --database-url postgresql://postgres@127.0.0.1:5432/bench --cases 1000000

The database is emptied first. Cases are spread over --agencies agencies (default 100) of
one Member State, so "My cases" of one frontline officer sees cases/agencies rows.
Results go to standard output as Markdown; copy them into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from config import database_url
from tests.conftest import reset_postgresql_schema

BATCH = 5000


def generate(app: Any, cases: int, agencies: int) -> list[int]:
    """Bulk-insert agencies, persons (encrypted name), cases and submitted identifications."""
    from app.accounts.models import Agency
    from app.accounts.roles import AgencyKind
    from app.cases.models import Case, Person
    from app.core.crypto import associated_data, encrypt, keyring
    from app.core.db import utcnow
    from app.extensions import db
    from app.identification.catalogue import bundled_catalogue
    from app.identification.models import IdentificationRecord

    with app.app_context():
        ring = keyring()
        ids = []
        for n in range(agencies):
            ids.append(
                db.session.execute(
                    insert(Agency)
                    .values(
                        name=f"Bench agency {n}",
                        member_state_code="FR",
                        kind=AgencyKind.POLICE,
                        active=True,
                        version=1,
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                    .returning(Agency.id)
                ).scalar_one()
            )
        db.session.commit()
        from app.accounts.models import User
        from app.accounts.roles import Role
        from tests.factories import make_user

        bench_officer = make_user(Role.FRONTLINE, db.session.get(Agency, ids[0]), email="bench@example.org")
        officer = db.session.get(User, bench_officer.id).id
        key = bundled_catalogue().key
        now = utcnow()
        content = json.dumps({"place": "", "indicators": {}})
        for start in range(0, cases, BATCH):
            persons, case_rows, records = [], [], []
            for i in range(start, min(start + BATCH, cases)):
                pid, cid, rid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
                persons.append(
                    {
                        "id": pid,
                        "member_state_code": "FR",
                        "anonymous": False,
                        "created_at": now,
                        "family_name_sealed": encrypt(
                            f"Person {i}", associated_data("person", "family_name", pid), ring
                        ),
                        "may_be_child": False,
                        "citizenships": [],
                        "languages": [],
                        "document_type": "none",
                    }
                )
                case_rows.append(
                    {
                        "id": cid,
                        "reference": f"FR-2026-B{i:09d}"[:20],
                        "member_state_code": "FR",
                        "owner_agency_id": ids[i % agencies],
                        "person_id": pid,
                        "status": "open",
                        "presumed_child": False,
                        "level": i % 3,
                        "opened_at": now - timedelta(minutes=i),
                        "updated_at": now,
                        "version": 1,
                        "reasonable_grounds_on": (now - timedelta(days=i % 60)).date() if i % 3 == 2 else None,
                    }
                )
                records.append(
                    {
                        "id": rid,
                        "status": "submitted",
                        "officer_id": officer,
                        "agency_id": ids[i % agencies],
                        "member_state_code": "FR",
                        "catalogue_key": key,
                        "created_at": now,
                        "updated_at": now,
                        "submitted_at": now,
                        "person_id": pid,
                        "case_id": cid,
                        "forms": ["forced_labour"],
                        "presumed_child": False,
                        "level": i % 3,
                        "version": 1,
                        "encounter_at": now,
                        "encounter_country": "FR",
                        "context": "other",
                        "content_sealed": encrypt(content, associated_data("identification", "content", rid), ring),
                    }
                )
            db.session.execute(insert(Person), persons)
            db.session.execute(insert(Case), case_rows)
            db.session.execute(insert(IdentificationRecord), records)
            db.session.commit()
        # As autovacuum would after a bulk load: without statistics the planner scans.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        return ids


def timed(call: Any, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def describe(name: str, samples: list[float]) -> tuple[str, str]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return name, f"{1000 / statistics.mean(ordered):,.0f} req/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--agencies", type=int, default=100)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    uri = database_url(args.database_url) or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if uri.startswith("postgresql"):
        reset_postgresql_schema(uri)

    from flask_migrate import upgrade

    from app import create_app
    from app.accounts.models import Agency
    from app.accounts.roles import Role
    from app.cases.models import Case
    from app.extensions import db
    from tests.factories import make_user, sign_in_directly

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False, "SIGN_IN_LIMIT_PER_ACCOUNT": "1000000 per minute"}
    )
    with app.app_context():
        upgrade()
    started = time.perf_counter()
    agency_ids = generate(app, args.cases, args.agencies)
    generation = time.perf_counter() - started
    client = app.test_client()
    with app.app_context():
        officer = make_user(Role.FRONTLINE, db.session.get(Agency, agency_ids[0]))
        sign_in_directly(client, officer)
        some_case = db.session.execute(
            select(Case.id).where(Case.owner_agency_id == agency_ids[0]).limit(1)
        ).scalar_one()

    from tests.identification.test_records import form

    def submit() -> None:
        response = client.post("/identifications/new")
        record_url = response.location
        done = client.post(record_url, data={**form(), "action": "submit"})
        assert done.status_code == 302, done.status_code

    client.get("/cases/")
    rows = [
        ("generation", f"{args.cases:,} cases in {generation:,.0f} s"),
        describe(
            f'GET /cases/ ("My cases", {args.cases // args.agencies:,} cases in the agency)',
            timed(lambda: client.get("/cases/"), args.requests),
        ),
        describe("GET /cases/<id> (case page)", timed(lambda: client.get(f"/cases/{some_case}"), args.requests)),
        describe(
            "submit an identification (2 requests: new draft, submit)", timed(submit, max(10, args.requests // 5))
        ),
    ]
    backend = make_url(uri).get_backend_name()
    print(f"\n### Cases benchmark on {backend}, {args.cases:,} cases\n")
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
