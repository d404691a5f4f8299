"""Audit trail benchmarks (issue 6): append throughput with concurrent writers, chain
verification over millions of entries against plain SHA-256 of the same bytes, and the
supervisor's timeline of one case.

Run (PostgreSQL only: the writers lock the chain head with SELECT ... FOR UPDATE, and the
chain is bulk-loaded with COPY; the database is emptied first):
  psql -h 127.0.0.1 -U postgres -c 'create database bench_audit'   # once
  .venv/bin/python bench/bench_audit.py --database-url postgresql://postgres@127.0.0.1:5432/bench_audit
  .venv/bin/python bench/bench_audit.py --database-url ... --entries 100000 --per-writer 1000   # a quick check

1. Appends: --writers processes (default 4), each with its own app and engine, call
   ``app.audit.services.record()`` and commit one entry per transaction, --per-writer
   entries each (default 5,000); first one writer alone for comparison. Then
   ``verify_chain()`` must find the chain whole (gap-free, in order).
2. Verification: the schema is rebuilt and --entries entries (default 10,000,000) are
   generated with the app's own ``canonical_payload()`` (on transient ``AuditEntry``
   objects) and ``chain_hash()``, in worker processes, loaded with COPY (secondary indexes
   dropped during the load and rebuilt after, as a restore would), the chain head set,
   VACUUM ANALYZE. A realistic mix of actions by 2,000 users in 200 agencies of 5
   countries on entries/50 cases; one case gets --case-entries entries spread over the
   whole chain.
   Then, in the same run, ``verify_chain()`` and a baseline that streams the same
   ``(prev_hash, payload)`` rows the same way (same session, ``yield_per`` batch, order)
   and does nothing but SHA-256 of exactly the bytes the chain hashes.
   --breakdown N times the baseline and each of the app's two verification paths (columns
   compared by PostgreSQL, or in Python) over the first N entries; --profile runs
   ``verify_chain()`` once more under cProfile.
3. Timeline: the supervisor's first page of that case (500 entries, by ``seq``) and a
   keyset page in the middle: the ``select(AuditEntry)`` query alone, then, when they
   exist, ``app.audit.queries.case_trail()`` with a commit and ``GET /audit/cases/<id>``
   through the test client as a supervisor; and the queries' EXPLAIN ANALYZE plans.

--reuse skips 1 and the load of 2 and measures the chain already in the database (from an
earlier run with the same --entries); --skip-verify leaves out the verification passes
(with --reuse: the timeline only). Results go to standard output as Markdown; copy them
into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import inspect
import io
import multiprocessing
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, select, text

from config import database_url

SEED = 6
BATCH = 20000  # entries per generated chunk (and verify_chain's default yield_per batch)
PAGE = 500  # entries per timeline page
COUNTRIES = ("FR", "DE", "IT", "ES", "NL")
HOT_CASE = "6f1d0c52-9a43-4b8e-8f6e-0c6a3b7f2d10"  # the case with --case-entries entries
SUPERVISOR = "supervisor@example.org"
START = datetime(2025, 12, 1, tzinfo=UTC).replace(tzinfo=None)  # the generated chain spans a year
SPAN = timedelta(days=365)
COLUMNS = (
    "seq, occurred_at, actor_id, actor_agency_id, member_state_code, action, object_type, object_id, "
    "case_id, request_id, client_address, payload, prev_hash, entry_hash"
)
# (action, weight, object type, whether the entry belongs to a case, actor kind)
ACTIONS = (
    ("case.viewed", 30, "case", True, "user"),
    ("case.list_viewed", 12, "case", False, "user"),
    ("identification.viewed", 8, "identification", True, "user"),
    ("auth.sign_in.success", 8, None, False, "user"),
    ("auth.sign_out", 5, None, False, "user"),
    ("referral.inbox_viewed", 5, "referral", False, "user"),
    ("referral.shared_viewed", 5, "referral", True, "user"),
    ("note.added", 4, "case", True, "user"),
    ("task.added", 3, "case", True, "user"),
    ("identification.submitted", 3, "identification", True, "user"),
    ("referral.created", 3, "referral", True, "user"),
    ("identification.amended", 2, "identification", True, "user"),
    ("consent.recorded", 2, "consent", True, "user"),
    ("referral.reminded", 3, "referral", True, "system"),
    ("referral.escalated", 1, "referral", True, "system"),
    ("service.capacity_updated", 5, "service", False, "user"),
    ("auth.throttled", 1, None, False, "anonymous"),
)
HOT_ACTIONS = ("case.viewed", "case.viewed", "note.added", "identification.viewed", "referral.shared_viewed")


def app_settings(uri: str) -> dict[str, Any]:
    """The testing keys (AUDIT_SIGNING_KEY included), production behaviour."""
    return {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": False}


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def fresh_schema(uri: str) -> Any:
    from flask_migrate import upgrade

    from app import create_app
    from tests.conftest import reset_postgresql_schema

    reset_postgresql_schema(uri)
    app = create_app(app_settings(uri))
    with app.app_context():
        upgrade()
    return app


# -- 1. appends --------------------------------------------------------------------------


def writer(uri: str, user_id: int, count: int, barrier: Any, out: Any) -> None:
    """One writer process: its own app and engine, one entry per transaction."""
    from app import create_app
    from app.accounts.models import User
    from app.audit.services import record
    from app.extensions import db

    app = create_app(app_settings(uri))
    rng = random.Random(user_id)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        country = user.agency.member_state_code
        db.session.expunge(user.agency)
        db.session.expunge(user)  # loaded once, as a request would have it: no reload after each commit
        record("bench.warm_up", actor=user)  # connection, mapper and statement caches
        db.session.rollback()
        barrier.wait()
        transactions, commits = [], []
        started = time.perf_counter()
        for n in range(count):
            case_id = _uuid(rng)
            viewed = n % 3 == 2  # two case views, then one identification view
            t0 = time.perf_counter()
            record(
                "identification.viewed" if viewed else "case.viewed",
                actor=user,
                object_type="identification" if viewed else "case",
                object_id=_uuid(rng) if viewed else case_id,
                case_id=case_id,
                member_state_code=country,
                details={"writer": user_id, "n": n},
            )
            t1 = time.perf_counter()
            db.session.commit()
            t2 = time.perf_counter()
            transactions.append((t2 - t0) * 1000)
            commits.append((t2 - t1) * 1000)
        out.put((started, time.perf_counter(), transactions, commits))


def appends(app: Any, uri: str, writers: int, per_writer: int) -> tuple[list[str], str]:
    """Markdown rows for 1 writer, then ``writers`` writers; then verify_chain() on the result."""
    from app.accounts.roles import Role
    from app.audit.services import verify_chain
    from tests.factories import make_user

    with app.app_context():
        users = [make_user(Role.CASEWORKER, email=f"writer{n}@example.org").id for n in range(writers)]
    rows = []
    context = multiprocessing.get_context("spawn")
    for group in (users[:1], users):
        barrier, out = context.Barrier(len(group)), context.Queue()
        processes = [context.Process(target=writer, args=(uri, u, per_writer, barrier, out)) for u in group]
        for process in processes:
            process.start()
        results = [out.get(timeout=3600) for _ in processes]
        for process in processes:
            process.join()
            assert process.exitcode == 0, process.exitcode
        elapsed = max(r[1] for r in results) - min(r[0] for r in results)
        transactions = [s for r in results for s in r[2]]
        commits = [s for r in results for s in r[3]]
        total = len(group) * per_writer
        rows.append(
            f"| {len(group)} | {total:,} | {elapsed:.1f} s | **{total / elapsed:,.0f} entries/s** "
            f"| {statistics.median(transactions):.2f} ms | {percentile(transactions, 0.95):.2f} ms "
            f"| {statistics.median(commits):.2f} ms | {percentile(commits, 0.95):.2f} ms |"
        )
    with app.app_context():
        started = time.perf_counter()
        result = verify_chain()
        took = time.perf_counter() - started
        expected = per_writer * (1 + writers)
        assert result.ok, result
        assert result.checked == expected == result.last_seq, (result.checked, expected)
    check = (
        f"`verify_chain()` afterwards: ok, {result.checked:,} entries, seq 1 to {result.last_seq:,} without gap "
        f"or broken link ({took:.1f} s)."
    )
    return rows, check


# -- 2. generation -----------------------------------------------------------------------


def make_world(app: Any) -> None:
    """The case whose trail the supervisor reads (id ``HOT_CASE``, France) and a French
    supervisor; the chain's other cases and users exist only as ids in the entries."""
    from app.accounts.roles import Role
    from app.cases.models import Case, Person, new_reference
    from app.cases.vocabulary import CaseStatus
    from app.extensions import db
    from tests.factories import make_agency, make_user

    with app.app_context():
        agency = make_agency("FR")
        person = Person(member_state_code="FR")
        person.family_name = "Bench"
        db.session.add(person)
        db.session.add(
            Case(
                id=HOT_CASE,
                reference=new_reference("FR", 2026),
                member_state_code="FR",
                owner_agency_id=agency.id,
                person_id=person.id,
                status=CaseStatus.OPEN,
                presumed_child=False,
                level=2,
            )
        )
        db.session.commit()
        make_user(Role.SUPERVISOR, agency, email=SUPERVISOR)


_world: dict[str, Any] = {}


def _init_generator(entries: int, case_entries: int) -> None:
    """Per generator process: the same case ids in every process."""
    rng = random.Random(SEED)
    cases = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(max(1000, entries // 50))]
    _world.update(cases=cases, entries=entries, case_entries=case_entries)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _details(action: str, rng: random.Random, case_id: str | None) -> dict[str, Any]:
    cases: list[str] = _world["cases"]
    if action == "case.viewed":
        return {"person": _uuid(rng), "identifications": [_uuid(rng) for _ in range(rng.randint(0, 2))]}
    if action in ("case.list_viewed", "referral.inbox_viewed"):
        return {"shown": rng.sample(cases, rng.randint(1, 12))}
    if action == "auth.sign_in.success":
        return {"method": rng.choice(("password+totp", "password+recovery_code"))}
    if action == "identification.submitted":
        return {"case": case_id, "level": rng.randint(0, 2), "presumed_child": rng.random() < 0.1}
    if action == "identification.amended":
        return {"fields": sorted(rng.sample(("place", "date", "indicators", "context"), 2)), "amendment": _uuid(rng)}
    if action == "referral.created":
        return {"case": case_id, "service": _uuid(rng), "urgency": rng.choice(("routine", "urgent", "emergency"))}
    if action == "referral.shared_viewed":
        return {"case": case_id, "parts": ["identification", "summary"], "identification": _uuid(rng)}
    if action == "service.capacity_updated":
        return {"available": rng.randint(0, 20), "maximum": 20}
    if action == "auth.throttled":
        return {"endpoint": "accounts.sign_in"}
    if action == "referral.escalated":
        return {"to": [rng.randint(1, 2000) for _ in range(2)]}
    if case_id is not None and action in ("identification.viewed", "consent.recorded"):
        return {"case": case_id}
    return {}


def generate_chunk(first: int, last: int) -> tuple[list[str], list[str]]:
    """COPY columns before the payload, and the payload, of entries ``first`` to ``last - 1``:
    the app's ``canonical_payload()`` of a transient ``AuditEntry``."""
    from app.audit.models import AuditEntry
    from app.audit.services import canonical_payload

    entries, cases = _world["entries"], _world["cases"]
    hot_every = max(1, entries // _world["case_entries"])
    hot_last = hot_every * _world["case_entries"]
    rng = random.Random(SEED * 1_000_003 + first)
    names = [a[0] for a in ACTIONS]
    weights = [a[1] for a in ACTIONS]
    kinds = {a[0]: a for a in ACTIONS}
    step = SPAN / entries
    prefixes, payloads = [], []
    for seq in range(first, last):
        hot = seq % hot_every == 0 and seq <= hot_last
        action = rng.choice(HOT_ACTIONS) if hot else rng.choices(names, weights)[0]
        _action, _weight, object_type, in_case, kind = kinds[action]
        case_id = HOT_CASE if hot else (rng.choice(cases) if in_case else None)
        actor = rng.randint(1, 2000) if kind == "user" else None
        agency = (actor - 1) // 10 + 1 if actor is not None else None
        country = COUNTRIES[agency % len(COUNTRIES)] if agency is not None else None
        if hot or (country is None and case_id is not None):
            country = "FR"
        object_id = case_id if object_type == "case" else (_uuid(rng) if object_type else None)
        if action == "case.list_viewed":
            object_id = case_id = None
        entry = AuditEntry(
            seq=seq,
            occurred_at=START + step * seq + timedelta(microseconds=rng.randint(0, 999)),
            actor_id=actor,
            actor_agency_id=agency,
            member_state_code=country,
            action=action,
            object_type=object_type,
            object_id=object_id,
            case_id=case_id,
            request_id=f"{rng.getrandbits(64):016x}" if kind != "system" else "tick",
            client_address=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            if kind != "system"
            else None,
        )
        payload = canonical_payload(entry, _details(action, rng, case_id))
        values = (
            seq,
            entry.occurred_at.isoformat(sep=" "),
            actor,
            agency,
            country,
            action,
            object_type,
            object_id,
            case_id,
            entry.request_id,
            entry.client_address,
        )
        prefixes.append("\t".join(r"\N" if v is None else str(v) for v in values))
        payloads.append(payload)
    return prefixes, payloads


def _chunk(bounds: tuple[int, int]) -> tuple[list[str], list[str]]:
    return generate_chunk(*bounds)


def _secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    """(drop statement, create statement) of audit_entry's indexes and unique constraints
    other than the primary key."""
    found = []
    for name, definition in conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'audit_entry'::regclass AND contype = 'u'"
        )
    ):
        found.append(
            (
                f"ALTER TABLE audit_entry DROP CONSTRAINT {name}",
                f"ALTER TABLE audit_entry ADD CONSTRAINT {name} {definition}",
            )
        )
    for name, definition in conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'audit_entry' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    ):
        found.append((f"DROP INDEX {name}", definition))
    return found


def load_chain(app: Any, entries: int, case_entries: int) -> tuple[float, float, str]:
    """Generate and COPY the chain; returns (generation and load seconds, index build
    seconds, last hash)."""
    from app.audit.models import GENESIS_HASH
    from app.audit.services import chain_hash
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    started = time.perf_counter()
    with engine.begin() as conn:
        indexes = _secondary_indexes(conn)
        for drop, _create in indexes:
            conn.execute(text(drop))
    bounds = [(first, min(first + BATCH, entries + 1)) for first in range(1, entries + 1, BATCH)]
    prev = GENESIS_HASH
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with (
            multiprocessing.get_context("spawn").Pool(
                os.cpu_count() or 2, initializer=_init_generator, initargs=(entries, case_entries)
            ) as pool,
            driver.cursor() as cursor,
        ):
            cursor.execute("SET synchronous_commit = off")
            with cursor.copy(f"COPY audit_entry ({COLUMNS}) FROM STDIN") as copy:
                for prefixes, payloads in pool.imap(_chunk, bounds):
                    out = io.StringIO()
                    for prefix, payload in zip(prefixes, payloads, strict=True):
                        entry_hash = chain_hash(prev, payload)
                        escaped = payload.replace("\\", "\\\\") if "\\" in payload else payload
                        out.write(f"{prefix}\t{escaped}\t{prev}\t{entry_hash}\n")
                        prev = entry_hash
                    copy.write(out.getvalue())
            cursor.execute(
                "INSERT INTO audit_chain_head (id, last_seq, last_hash, first_seq, first_prev_hash) "
                "VALUES (1, %s, %s, 1, %s) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, "
                "last_hash = excluded.last_hash, first_seq = 1, first_prev_hash = excluded.first_prev_hash",
                (entries, prev, GENESIS_HASH),
            )
        driver.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SET maintenance_work_mem = '1GB'"))
        for _drop, create in indexes:
            conn.execute(text(create))
        conn.execute(text("VACUUM ANALYZE audit_entry"))  # as autovacuum would after a bulk load
        conn.execute(text("ANALYZE audit_chain_head"))
    return loaded, time.perf_counter() - started, prev


# -- 2. verification ---------------------------------------------------------------------


def baseline(batch_size: int = BATCH) -> int:
    """The same rows streamed the same way as verify_chain(), and only SHA-256 of the same bytes."""
    from app.audit.models import AuditEntry
    from app.extensions import db

    sha256 = hashlib.sha256
    count = 0
    stmt = select(AuditEntry.prev_hash, AuditEntry.payload).where(AuditEntry.seq >= 1).order_by(AuditEntry.seq)
    result = db.session.execute(stmt.execution_options(yield_per=batch_size))
    try:
        for prev_hash, payload in result:
            sha256(prev_hash.encode("ascii") + payload.encode("utf-8")).hexdigest()
            count += 1
    finally:
        result.close()
    return count


def verification(app: Any) -> list[str]:
    from app.audit.models import AuditChainHead
    from app.audit.services import verify_chain
    from app.extensions import db

    with app.app_context():
        head = db.session.get(AuditChainHead, 1)
        assert head is not None
        entries = head.last_seq  # --entries, and with --reuse the timeline's own entries of earlier runs
        db.session.rollback()
        with db.engine.connect() as conn:  # reads the whole table: both passes start with it cached
            size = conn.execute(text("SELECT pg_total_relation_size('audit_entry')")).scalar_one()
            heap = conn.execute(text("SELECT pg_relation_size('audit_entry')")).scalar_one()
            average = conn.execute(text("SELECT avg(octet_length(payload)) FROM audit_entry")).scalar_one()
        started = time.perf_counter()
        count = baseline()
        plain = time.perf_counter() - started
        db.session.rollback()
        started = time.perf_counter()
        result = verify_chain()
        full = time.perf_counter() - started
        db.session.rollback()
    assert result.ok, result
    assert result.checked == count == entries, (result.checked, count, entries)
    ratio = (entries / full) / (entries / plain)
    verdict = "target met" if ratio >= 0.5 else "**below the 0.5 target**"
    return [
        f"Table `audit_entry`: {heap / 2**30:.1f} GiB of rows, {size / 2**30:.1f} GiB with indexes; "
        f"payload {float(average):.0f} bytes on average.\n",
        "| pass over the chain | time | rate | ratio |",
        "| --- | --- | --- | --- |",
        f"| plain SHA-256 of the same bytes (streamed the same way) | {plain:.1f} s | {entries / plain:,.0f} entries/s "
        "| 1 |",
        f"| `verify_chain()` (ok, {result.checked:,} entries) | {full:.1f} s | {entries / full:,.0f} entries/s "
        f"| **{ratio:.2f}** ({verdict}) |",
    ]


def _steps(limit: int) -> list[tuple[str, Any, dict[str, int], Callable[[Any], Any]]]:
    """The baseline, then each verification path of the app over the same rows."""
    from app.audit.models import AuditEntry
    from app.audit.services import _COLUMNS, _PG_ROWS, _columns_match

    sha256 = hashlib.sha256
    two = select(AuditEntry.prev_hash, AuditEntry.payload).where(AuditEntry.seq <= limit).order_by(AuditEntry.seq)
    full = select(*_COLUMNS).where(AuditEntry.seq <= limit).order_by(AuditEntry.seq)

    def digest(row: Any) -> bool:
        if sha256((row[1] + row[3]).encode("utf-8")).hexdigest() != row[2]:
            raise AssertionError(row[0])
        return True

    def flagged(row: Any) -> None:
        if not (digest(row) and row[4]):
            raise AssertionError(row[0])

    def portable(row: Any) -> None:
        if not (digest(row) and _columns_match(row, row[3])):
            raise AssertionError(row[0])

    return [
        (
            "baseline: fetch `(prev_hash, payload)`, SHA-256",
            two,
            {},
            lambda row: sha256(row[0].encode() + row[1].encode()),
        ),
        (
            "PostgreSQL path: columns compared with the payload in the query, SHA-256 in Python",
            text(_PG_ROWS),
            {"first": 1, "last": limit},
            flagged,
        ),
        ("portable path (SQLite, fallback): 14 columns, `json.loads` and compare in Python", full, {}, portable),
    ]


def breakdown(app: Any, limit: int) -> list[str]:
    """Time each line of verify_chain()'s loop over the first ``limit`` entries."""
    from app.extensions import db

    lines = ["| loop over the first entries | time | rate | cost per entry |", "| --- | --- | --- | --- |"]
    with app.app_context():
        for label, stmt, params, step in _steps(limit):
            started = time.perf_counter()
            result = db.session.execute(stmt, params, execution_options={"yield_per": BATCH})
            for row in result:
                step(row)
            took = time.perf_counter() - started
            result.close()
            db.session.rollback()
            lines.append(f"| {label} | {took:.2f} s | {limit / took:,.0f}/s | {took / limit * 1e6:.1f} µs |")
    return lines


def profile(app: Any) -> str:
    from app.audit.services import verify_chain
    from app.extensions import db

    with app.app_context():
        profiler = cProfile.Profile()
        profiler.enable()
        result = verify_chain()
        profiler.disable()
        db.session.rollback()
    assert result.ok
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


# -- 3. timeline -------------------------------------------------------------------------


def _trail_function() -> Callable[..., Any] | None:
    if importlib.util.find_spec("app.audit.queries") is None:
        return None
    from app.audit import queries

    return getattr(queries, "case_trail", None)


def _plan(conn: Any, label: str, stmt: Any) -> str:
    sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql))
    used = "uses ix_audit_entry_case_seq" if "ix_audit_entry_case_seq" in plan else "**NOT ix_audit_entry_case_seq**"
    shown = "SELECT audit_entry.* " + sql[sql.index("FROM audit_entry") :]
    return f"{label} ({used}):\n\n```\n{shown}\n\n{plan}\n```\n"


def _trail_calls(middle: int) -> list[tuple[str, Callable[[], int]]]:
    """``case_trail()`` with the commit a request makes, when it exists (in an app context)."""
    from app.accounts.models import User
    from app.extensions import db

    trail = _trail_function()
    if trail is None:
        return []
    supervisor_id = db.session.scalars(select(User.id).where(User.email == SUPERVISOR)).one()

    def trail_page(after: int | None) -> int:
        supervisor = db.session.get(User, supervisor_id)  # as a request loads its user
        _case, page = trail(supervisor, HOT_CASE, after=after)
        db.session.commit()
        return len(page.entries)

    return [
        ("`case_trail()` + commit, first page", lambda: trail_page(None)),
        (f"`case_trail(after={middle:,})` + commit", lambda: trail_page(middle)),
    ]


def _page_calls(app: Any, middle: int) -> list[tuple[str, Callable[[], int]]]:
    """The supervisor's page through the test client, when it exists (outside any app
    context: each request has its own, as in production)."""
    from app.accounts.models import User
    from app.extensions import db
    from tests.factories import sign_in_directly

    if not any(rule.rule == "/audit/cases/<case_id>" for rule in app.url_map.iter_rules()):
        return []
    client = app.test_client()
    with app.app_context():
        sign_in_directly(client, db.session.scalars(select(User).where(User.email == SUPERVISOR)).one())

    def page(query: str) -> int:
        response = client.get(f"/audit/cases/{HOT_CASE}{query}")
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return response.get_data(as_text=True).count("<tr") - 1  # table rows, less the header

    return [
        ("`GET /audit/cases/<id>` (test client)", lambda: page("")),
        (f"`GET /audit/cases/<id>?after={middle}`", lambda: page(f"?after={middle}")),
    ]


def _measure(app: Any, label: str, run: Callable[[], int], repeat: int, context: bool) -> str:
    from app.extensions import db

    def timed() -> tuple[int, list[float], int]:
        samples, rows = [], 0
        for _ in range(repeat):
            if context:
                db.session.expunge_all()
            started = time.perf_counter()
            rows = run()
            samples.append((time.perf_counter() - started) * 1000)
        seen: list[str] = []
        with app.app_context():
            engine = db.engine

        def listener(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", listener)
        try:
            run()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return rows, samples, len(seen)

    try:
        rows, samples, statements = timed()
    except Exception as exc:  # the app under test may fail: report it, go on
        if context:
            db.session.rollback()
        return f"| {label} | fails: `{type(exc).__name__}: {exc}` | | | | |"
    return (
        f"| {label} | {rows} | {statements} | {samples[0]:.1f} ms | {statistics.median(samples):.1f} ms "
        f"| {percentile(samples, 0.95):.1f} ms |"
    )


def timeline(app: Any, case_entries: int, repeat: int) -> list[str]:
    """The case's first page and a keyset page in the middle: the query alone (ORM
    entities); then, if they exist, ``case_trail()`` (the supervisor page's service:
    query, names, its own audit entry) with a commit, and the page itself."""
    from app.audit.models import AuditEntry
    from app.extensions import db

    with app.app_context():
        seqs = list(
            db.session.scalars(select(AuditEntry.seq).where(AuditEntry.case_id == HOT_CASE).order_by(AuditEntry.seq))
        )
        assert len(seqs) >= case_entries, (len(seqs), case_entries)  # with --reuse, earlier runs' page views too
        middle = seqs[case_entries // 2 - 1]
        base = select(AuditEntry).where(AuditEntry.case_id == HOT_CASE).order_by(AuditEntry.seq)
        first_page, keyset_page = base.limit(PAGE), base.where(AuditEntry.seq > middle).limit(PAGE)
        lines = [
            f"Case `{HOT_CASE}`: {len(seqs):,} entries (seq {seqs[0]:,} to {seqs[-1]:,}); "
            f"{repeat} calls each, in-process, one thread.\n",
            "| call | rows | SQL statements | first call | p50 | p95 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        calls = [
            (f"query, first page (limit {PAGE})", lambda: len(db.session.scalars(first_page).all())),
            (f"query, keyset page (`seq > {middle:,}`)", lambda: len(db.session.scalars(keyset_page).all())),
            *_trail_calls(middle),
        ]
        lines += [_measure(app, label, run, repeat, context=True) for label, run in calls]
    lines += [_measure(app, label, run, repeat, context=False) for label, run in _page_calls(app, middle)]
    trail = _trail_function()
    if trail is not None:
        lines.append(f"\n`app.audit.queries.case_trail{inspect.signature(trail)}`.")
    lines.append("\n#### Plans\n")
    with app.app_context(), db.engine.connect() as conn:
        lines.append(_plan(conn, "first page", first_page))
        lines.append(_plan(conn, "keyset page", keyset_page))
    return lines


# -- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="PostgreSQL; emptied first")
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--case-entries", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30, help="timeline queries")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N", help="step costs over the first N entries")
    parser.add_argument("--profile", action="store_true", help="verify_chain() under cProfile (after the timing)")
    parser.add_argument("--reuse", action="store_true", help="measure the chain already loaded")
    parser.add_argument("--skip-verify", action="store_true", help="no verification passes (with --reuse: timeline)")
    args = parser.parse_args()
    uri = database_url(args.database_url)
    if not uri or not uri.startswith("postgresql"):
        sys.exit("PostgreSQL only (--database-url postgresql://...)")
    case_entries = min(args.case_entries, args.entries)
    load = os.getloadavg()[0]
    print(
        f"\n### Audit benchmark on PostgreSQL, {args.entries:,} entries\n\n"
        f"{os.cpu_count()} cores, 1-minute load average {load:.1f} when the run started.",
        flush=True,
    )
    from app import create_app

    if not args.reuse:
        app = fresh_schema(uri)
        print(f"\n#### Appends: one entry per transaction, {args.per_writer:,} entries per writer\n")
        rows, check = appends(app, uri, args.writers, args.per_writer)
        print("| writers | entries | time | throughput | transaction p50 | p95 | commit() p50 | p95 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))
        print(f"\n{check}", flush=True)
        app = fresh_schema(uri)
        make_world(app)
        loaded, indexed, _last = load_chain(app, args.entries, case_entries)
        print(
            f"\nGenerated and loaded {args.entries:,} entries in {loaded:,.0f} s (COPY, {os.cpu_count()} generator "
            f"processes), indexes and VACUUM ANALYZE {indexed:,.0f} s.",
            flush=True,
        )
    else:
        app = create_app(app_settings(uri))
    if not args.skip_verify:
        print(f"\n#### Verification over {args.entries:,} entries\n")
        print("\n".join(verification(app)), flush=True)
    if args.breakdown:
        print(f"\n#### verify_chain()'s loop, line by line, first {args.breakdown:,} entries\n")
        print("\n".join(breakdown(app, min(args.breakdown, args.entries))), flush=True)
    print(f"\n#### Supervisor timeline of one case ({case_entries:,} entries)\n")
    print("\n".join(timeline(app, case_entries, args.repeat)), flush=True)
    if args.profile:
        print("\n#### cProfile of verify_chain()\n\n```\n" + profile(app) + "```")


if __name__ == "__main__":
    main()
