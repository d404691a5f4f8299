"""Foundation benchmarks: password hashing cost, audit append and verify rates, page throughput.

Run:  .venv/bin/python bench/bench_foundation.py [--database-url URL] [--entries N]
Without --database-url it uses a temporary SQLite file. For PostgreSQL pass e.g.
postgresql://postgres@127.0.0.1:5432/bench (the database is emptied first).
Results go to standard output as a Markdown table; copy them into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from argon2 import PasswordHasher
from sqlalchemy import event
from sqlalchemy.engine import make_url

from config import BaseConfig, database_url
from tests.conftest import reset_postgresql_schema


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    uri = database_url(args.database_url)
    if uri is None:
        uri = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    elif uri.startswith("postgresql"):
        reset_postgresql_schema(uri)

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "WTF_CSRF_ENABLED": False})
    rows = measure(app, args.entries, args.requests)
    backend = make_url(uri).get_backend_name()
    print(f"\n### Foundation benchmark on {backend}\n")
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


def measure(app, entries: int, requests: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from flask_migrate import upgrade

    from app.accounts.roles import Role
    from app.audit import services as audit
    from app.extensions import db

    rows: list[tuple[str, str]] = []

    production_hasher = PasswordHasher(
        time_cost=BaseConfig.ARGON2_TIME_COST,
        memory_cost=BaseConfig.ARGON2_MEMORY_COST,
        parallelism=BaseConfig.ARGON2_PARALLELISM,
    )
    hash_time = timed(lambda: production_hasher.hash("correct horse battery staple"), 5)
    rows.append(("argon2id hash, production parameters (t=3, m=64 MiB, p=4)", f"{hash_time * 1000:.0f} ms"))

    with app.app_context():
        upgrade()
        from tests.factories import make_user, sign_in_directly

        user = make_user(Role.FRONTLINE)
        start = time.perf_counter()
        batch = 500
        for i in range(entries):
            audit.record("bench.event", actor=user, object_type="thing", object_id=i, details={"n": i})
            if i % batch == batch - 1:
                db.session.commit()
        db.session.commit()
        append_rate = entries / (time.perf_counter() - start)
        rows.append((f"audit append, 1 writer, commits of {batch}", f"{append_rate:,.0f} entries/s"))

        start = time.perf_counter()
        result = audit.verify_chain()
        verify_rate = result.checked / (time.perf_counter() - start)
        assert result.ok
        rows.append((f"audit verify ({result.checked:,} entries)", f"{verify_rate:,.0f} entries/s"))

        payloads = [f'{"0" * 64}{{"seq":{i},"action":"bench.event"}}'.encode() for i in range(result.checked)]
        start = time.perf_counter()
        for payload in payloads:
            hashlib.sha256(payload).hexdigest()
        sha_rate = len(payloads) / (time.perf_counter() - start)
        rows.append(("plain SHA-256 of similar bytes (reference)", f"{sha_rate:,.0f} hashes/s"))

        client = app.test_client()
        sign_in_directly(client, user)

    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for url in ("/", "/account/", "/account/sessions"):
        statements.clear()
        client.get(url)
        per_page = len(statements)
        start = time.perf_counter()
        for _ in range(requests):
            assert client.get(url).status_code == 200
        rate = requests / (time.perf_counter() - start)
        rows.append((f"GET {url} (in-process, 1 thread)", f"{rate:,.0f} req/s, {per_page} SQL statements"))

    return rows


if __name__ == "__main__":
    main()
