"""Referral benchmarks: generate N referrals, then measure the recipient's inbox and the
sender's list through gunicorn (the real HTTP stack) under concurrent users.

Run:
  .venv/bin/python bench/bench_referrals.py --database-url postgresql://postgres@127.0.0.1:5432/bench_ref
  .venv/bin/python bench/bench_referrals.py --referrals 3000 --seconds 5      # SQLite, a quick check

The database is emptied first. --agencies agencies of one Member State (FR): half police
(senders, with their cases, persons and consents), half shelters and support services
(recipients, each with a linked directory organisation and one to three services). About
--share of the referrals (default 1%) are sent by the measured officer's agency, and as
many go to the measured caseworker's agency. The status mix is realistic: most referrals
have ended in the past two years, some wait for an answer (due around now), some are
accepted or in progress. Each sent referral has one or two history events.

Then gunicorn (gunicorn.conf.py, --workers, --threads) serves the same database on
127.0.0.1 with the same keys as the generator, and --concurrency client threads, each
signed in as its own user (a server-side session made directly, as in
tests/factories.sign_in_directly), request one page again and again for --seconds.
The table also gives the rows shown and SQL statements of one request (in-process), and
the CPU time gunicorn's processes used per request (Linux), which varies less than latency
when other jobs share the machine. Results go to standard output as Markdown; copy them
into docs/PERFORMANCE.md. The query plans of both pages follow the table (EXPLAIN ANALYZE
on PostgreSQL, EXPLAIN QUERY PLAN on SQLite). SQLite is for a quick check only: it ignores
SELECT ... FOR UPDATE, so concurrent audit appends collide and some requests fail (500).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from config import database_url

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5000  # referrals per committed batch
SEED = 4
URL_ENV = "BENCH_REFERRALS_DATABASE_URL"
INBOX, SENT = "/referrals/inbox", "/referrals/sent"
ROW_MARKER = '<td><a href="/referrals/'  # the first cell of each row in both lists

# Share of referrals by status (percent): most ended, some waiting, some active.
STATUS_MIX = {
    "completed": 45,
    "declined": 15,
    "expired": 8,
    "withdrawn": 7,
    "draft": 2,
    "sent": 8,
    "acknowledged": 5,
    "reopened": 1,
    "accepted": 4,
    "in_progress": 5,
}
AWAITING = ("sent", "acknowledged", "reopened")
ACTIVE = ("accepted", "in_progress")
URGENCY_MIX = {"emergency": 10, "urgent": 40, "routine": 50}
RESPONSE_HOURS = {"emergency": 2, "urgent": 24, "routine": 7 * 24}  # FR defaults, routine as calendar days
RECIPIENT_KINDS = ("shelter", "ngo_support", "legal_aid", "health_service", "social_services")
SERVICE_TYPES = ("safe_accommodation", "psychological", "legal_aid", "medical", "counselling", "interpretation")
# (action, from status, side) of the last event of a referral in this status; "send" comes first.
LAST_EVENT = {
    "acknowledged": ("acknowledge", "sent", "recipient"),
    "accepted": ("accept", "sent", "recipient"),
    "in_progress": ("start", "accepted", "recipient"),
    "completed": ("complete", "in_progress", "recipient"),
    "declined": ("decline", "sent", "recipient"),
    "expired": ("expire", "sent", "system"),
    "withdrawn": ("withdraw", "sent", "sender"),
    "reopened": ("reopen", "declined", "sender"),
}


def app_settings(uri: str) -> dict[str, Any]:
    """The generator's and the server's configuration: the testing keys, production behaviour."""
    return {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": False}


def server_app() -> Any:
    """gunicorn's entry point: ``bench_referrals:server_app()``, database from the environment."""
    from app import create_app

    return create_app(app_settings(os.environ[URL_ENV]))


# -- generation --------------------------------------------------------------------------


@dataclass
class Recipient:
    agency_id: int
    organization_id: str
    service_ids: list[str]
    caseworker_id: int


@dataclass
class World:
    officer_agency: int  # the measured officer's agency (sender)
    worker: Recipient  # the measured caseworker's agency (recipient)
    senders: list[int]
    sender_user: dict[int, int]  # agency id -> a frontline user who sends its referrals
    recipients: list[Recipient]
    sent: Counter[str] = field(default_factory=Counter)  # of the officer's agency, by status
    received: Counter[str] = field(default_factory=Counter)  # of the caseworker's agency, by status


def bulk_agencies(names: list[tuple[str, str]]) -> list[int]:
    from app.accounts.models import Agency
    from app.core.db import utcnow
    from app.extensions import db

    now = utcnow()
    rows = [
        {"name": name, "member_state_code": "FR", "kind": kind, "active": True, "version": 1}
        | {"created_at": now, "updated_at": now}
        for name, kind in names
    ]
    return list(db.session.scalars(insert(Agency).returning(Agency.id, sort_by_parameter_order=True), rows))


def make_world(agencies: int) -> World:
    """Agencies, one frontline user per sender, one caseworker, organisation and services per recipient."""
    from app.accounts.models import Agency
    from app.accounts.roles import Role
    from app.core.db import utcnow
    from app.directory.models import Organization, Service
    from app.extensions import db
    from tests.factories import make_user

    half = max(2, agencies // 2)
    senders = bulk_agencies([(f"Police {n}", "police") for n in range(half)])
    recipient_agencies = bulk_agencies(
        [(f"Support {n}", RECIPIENT_KINDS[n % len(RECIPIENT_KINDS)]) for n in range(half)]
    )
    db.session.commit()
    sender_user = {
        a: make_user(Role.FRONTLINE, db.session.get(Agency, a), email=f"sender{a}@example.org").id for a in senders
    }
    now = utcnow()
    organizations, services, recipients = [], [], []
    for n, agency_id in enumerate(recipient_agencies):
        org_id = str(uuid.uuid4())
        organizations.append(
            {"id": org_id, "name": f"Support organisation {n}", "description": "", "member_state_code": "FR"}
            | {"agency_id": agency_id, "active": True, "version": 1, "created_at": now, "updated_at": now}
        )
        service_ids = [str(uuid.uuid4()) for _ in range(n % 3 + 1)]
        for k, service_id in enumerate(service_ids):
            services.append(
                {"id": service_id, "organization_id": org_id, "name": f"Service {n}.{k}", "description": ""}
                | {"service_type": SERVICE_TYPES[(n + k) % len(SERVICE_TYPES)], "member_state_code": "FR"}
                | {"region": "", "languages": ["fr", "en"], "target_groups": [], "eligibility": ""}
                | {"opening_hours": "", "always_open": k == 0, "active": True, "capacity_unit": ""}
                | {"version": 1, "created_at": now, "updated_at": now}
            )
        worker = make_user(
            Role.CASEWORKER, db.session.get(Agency, agency_id), email=f"caseworker{agency_id}@example.org"
        )
        recipients.append(Recipient(agency_id, org_id, service_ids, worker.id))
    db.session.execute(insert(Organization), organizations)
    db.session.execute(insert(Service), services)
    db.session.commit()
    return World(senders[0], recipients[0], senders, sender_user, recipients)


def timeline(rng: random.Random, status: str, urgency: str, now: datetime) -> dict[str, datetime | None]:
    """Timestamps that fit the status and the CHECK constraints (sent and due together)."""
    window = timedelta(hours=RESPONSE_HOURS[urgency])
    t: dict[str, datetime | None] = dict.fromkeys(
        ("sent_at", "due_at", "acknowledged_at", "accepted_at", "ended_at", "escalated_at")
    )
    if status == "draft":
        t["created_at"] = now - timedelta(days=rng.uniform(0, 30))
        return t
    latest = now - timedelta(minutes=1)
    if status in AWAITING:  # the deadline is around now: a few overdue, most still running
        sent = now + timedelta(hours=rng.uniform(-1, RESPONSE_HOURS[urgency])) - window
        if status == "acknowledged":
            t["acknowledged_at"] = sent + (now - sent) * rng.random()
    elif status in ACTIVE:
        sent = now - timedelta(days=rng.uniform(1, 60))
        t["acknowledged_at"] = t["accepted_at"] = sent + window * rng.uniform(0.05, 0.9)
    else:  # ended in the past two years
        sent = now - window - timedelta(days=rng.uniform(1, 730))
        if status == "expired":
            t["escalated_at"] = t["ended_at"] = sent + window
        elif status == "completed":
            accepted = sent + window * rng.uniform(0.05, 0.9)
            t["acknowledged_at"] = t["accepted_at"] = accepted
            t["ended_at"] = min(latest, accepted + timedelta(days=rng.uniform(1, 45)))
        else:  # declined or withdrawn
            t["ended_at"] = sent + window * rng.uniform(0.05, 0.9)
    t["sent_at"], t["due_at"] = sent, sent + window
    t["created_at"] = sent - timedelta(minutes=rng.uniform(1, 30))
    return t


def history(rid: str, status: str, t: dict[str, Any], sender: int, recipient: int) -> list[dict[str, Any]]:
    """The "send" event, then the one that led to the current status."""
    if status == "draft":
        return []
    sent = {"referral_id": rid, "at": t["sent_at"], "actor_id": sender, "side": "sender", "action": "send"}
    rows = [sent | {"from_status": "draft", "to_status": "sent", "details": {}}]
    if status in LAST_EVENT:
        action, previous, side = LAST_EVENT[status]
        actor = {"sender": sender, "recipient": recipient, "system": None}[side]
        at = t["ended_at"] or t["accepted_at"] or t["acknowledged_at"] or t["sent_at"]
        rows.append(
            {"referral_id": rid, "at": at, "actor_id": actor, "side": side, "action": action}
            | {"from_status": previous, "to_status": status, "details": {}}
        )
    return rows


class Generator:
    """Bulk rows for one batch of cases, each with one or two referrals to different organisations."""

    def __init__(self, world: World, share: float, ring: Any) -> None:
        from app.core.db import utcnow

        self.world, self.share, self.ring = world, share, ring
        self.rng = random.Random(SEED)
        self.now = utcnow()
        self.others = [r for r in world.recipients if r is not world.worker]
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def seal(self, value: str, table: str, column: str, row_id: str) -> str:
        from app.core.crypto import associated_data, encrypt

        return encrypt(value, associated_data(table, column, row_id), self.ring)

    def batch(self, first: int, last: int, total: int) -> dict[str, list[dict[str, Any]]]:
        self.rows = {"person": [], "case": [], "consent": [], "referral": [], "event": []}
        for c in range(first, last):
            self.case(c, 2 if 2 * c + 1 < total else 1)
        return self.rows

    def case(self, c: int, referrals: int) -> None:
        rng, world = self.rng, self.world
        sender = world.officer_agency if rng.random() < self.share else rng.choice(world.senders[1:])
        pid, cid = str(uuid.uuid4()), str(uuid.uuid4())
        targets: list[Recipient] = []
        while len(targets) < referrals:
            target = world.worker if rng.random() < self.share else rng.choice(self.others)
            if target not in targets:
                targets.append(target)
        made = [self.referral(cid, sender, target) for target in targets]
        opened = min(r["created_at"] for r in made) - timedelta(days=rng.uniform(0, 3))
        self.rows["person"].append(
            {"id": pid, "member_state_code": "FR", "anonymous": False, "created_at": opened}
            | {"family_name_sealed": self.seal(f"Person {c}", "person", "family_name", pid), "may_be_child": False}
            | {"citizenships": [], "languages": ["fr"], "document_type": "none"}
        )
        self.rows["case"].append(
            {"id": cid, "reference": f"FR-2026-R{c:08d}", "member_state_code": "FR", "owner_agency_id": sender}
            | {"person_id": pid, "status": "open", "presumed_child": False, "level": 2, "opened_at": opened}
            | {"updated_at": self.now, "version": 1, "reasonable_grounds_on": opened.date()}
        )
        consented = [r for r in made if r["legal_basis"] == "consent"]
        if consented:
            consent_id = str(uuid.uuid4())
            orgs = [r["recipient_organization_id"] for r in consented]
            self.rows["consent"].append(
                {"id": consent_id, "case_id": cid, "person_id": pid, "given_by": "person"}
                | {"given_on": opened.date(), "language": "fr", "assistance_referral": True, "data_sharing": True}
                | {"cross_border": False, "organization_ids": orgs, "recorded_by_id": world.sender_user[sender]}
                | {"recorded_at": opened}
            )
            for r in consented:
                r["consent_id"] = consent_id
        self.rows["referral"].extend(made)

    def referral(self, cid: str, sender: int, target: Recipient) -> dict[str, Any]:
        rng = self.rng
        rid = str(uuid.uuid4())
        status = rng.choices(list(STATUS_MIX), weights=list(STATUS_MIX.values()))[0]
        urgency = rng.choices(list(URGENCY_MIX), weights=list(URGENCY_MIX.values()))[0]
        vital = rng.random() < 0.03
        t = timeline(rng, status, urgency, self.now)
        sender_user = self.world.sender_user[sender]
        self.rows["event"].extend(history(rid, status, t, sender_user, target.caseworker_id))
        if sender == self.world.officer_agency:
            self.world.sent[status] += 1
        if target is self.world.worker:
            self.world.received[status] += 1
        outcome = rng.choice(("got_help", "got_help", "not_contacted", "other")) if status == "completed" else None
        return t | {
            "id": rid,
            "case_id": cid,
            "service_id": rng.choice(target.service_ids),
            "recipient_organization_id": target.organization_id,
            "recipient_agency_id": target.agency_id,
            "sender_agency_id": sender,
            "sender_user_id": sender_user,
            "member_state_code": "FR",
            "status": status,
            "urgency": urgency,
            "shared_parts": ["needs", "profile"],
            "legal_basis": "vital_interest" if vital else "consent",
            "consent_id": None,
            "purpose_sealed": self.seal("Safe place to stay and counselling", "referral", "purpose", rid),
            "justification_sealed": (
                self.seal("Immediate danger: the person cannot wait", "referral", "justification", rid)
                if vital
                else None
            ),
            "decline_reason": rng.choice(("no_capacity", "not_eligible")) if status == "declined" else None,
            "decline_note_sealed": None,
            "outcome": outcome,
            "services_delivered_sealed": (
                self.seal("Accommodation for two weeks", "referral", "services_delivered", rid)
                if outcome == "got_help"
                else None
            ),
            "reminded_at": None,
            "version": 1,
        }


def generate(app: Any, referrals: int, agencies: int, share: float) -> World:
    from app.cases.models import Case, Person
    from app.core.crypto import keyring
    from app.extensions import db
    from app.privacy.models import Consent
    from app.referrals.models import Referral, ReferralEvent

    with app.app_context():
        world = make_world(agencies)
        maker = Generator(world, share, keyring())
        cases = (referrals + 1) // 2
        for first in range(0, cases, BATCH // 2):
            rows = maker.batch(first, min(first + BATCH // 2, cases), referrals)
            db.session.execute(insert(Person), rows["person"])
            db.session.execute(insert(Case), rows["case"])
            if rows["consent"]:
                db.session.execute(insert(Consent), rows["consent"])
            db.session.execute(insert(Referral), rows["referral"])
            db.session.execute(insert(ReferralEvent), rows["event"])
            db.session.commit()
        # As autovacuum would after a bulk load: without statistics the planner scans.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        return world


def sign_in(app: Any, world: World, users: int) -> dict[str, list[str]]:
    """Session cookies for ``users`` new caseworkers and officers of the measured agencies."""
    from app.accounts import sessions
    from app.accounts.models import Agency
    from app.accounts.roles import Role
    from app.extensions import db
    from tests.factories import make_user

    serializer = app.session_interface.get_signing_serializer(app)
    cookies: dict[str, list[str]] = {INBOX: [], SENT: []}
    with app.app_context():
        for page, role, agency_id in (
            (INBOX, Role.CASEWORKER, world.worker.agency_id),
            (SENT, Role.FRONTLINE, world.officer_agency),
        ):
            for _ in range(users):
                email = f"bench-{role.value}-{uuid.uuid4().hex[:12]}@example.org"
                user = make_user(role, db.session.get(Agency, agency_id), email=email)
                _record, token = sessions.start(user, client_address="127.0.0.1", user_agent="bench")
                db.session.commit()
                cookies[page].append(f"{app.config['SESSION_COOKIE_NAME']}={serializer.dumps({'sid': token})}")
    return cookies


# -- measuring ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(uri: str, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        URL_ENV: uri,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--pythonpath", str(ROOT / "bench")]
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "bench_referrals:server_app()"], cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    sys.exit(f"gunicorn did not answer within 60 s; see {log}")


class Client:
    """One user: a kept-alive connection and a session cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, str]:
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers={"Cookie": self.cookie})
                response = self.conn.getresponse()
                return response.status, response.read().decode()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed an idle kept-alive connection: reconnect once
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


@dataclass
class Run:
    samples: list[float] = field(default_factory=list)  # milliseconds, successful requests
    errors: Counter[str] = field(default_factory=Counter)  # HTTP status or exception name
    elapsed: float = 0.0


def hammer(port: int, path: str, cookies: list[str], seconds: float) -> Run:
    """Each cookie is one user requesting ``path`` back to back for ``seconds``."""
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(len(cookies) + 1)
    box: dict[str, float] = {}

    def user(cookie: str) -> None:
        client = Client(port, cookie)
        client.get(path)  # warm: connection, worker, caches
        samples: list[float] = []
        errors: Counter[str] = Counter()
        barrier.wait()
        while time.perf_counter() < box["end"]:
            start = time.perf_counter()
            try:
                status, _body = client.get(path)
            except (http.client.HTTPException, OSError) as exc:
                errors[type(exc).__name__] += 1
                continue
            if status == 200:
                samples.append((time.perf_counter() - start) * 1000)
            else:
                errors[str(status)] += 1
        with lock:
            run.samples.extend(samples)
            run.errors.update(errors)

    threads = [threading.Thread(target=user, args=(cookie,)) for cookie in cookies]
    for thread in threads:
        thread.start()
    box["end"] = time.perf_counter() + seconds
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.elapsed = time.perf_counter() - started
    return run


def errors(counts: Counter[str]) -> str:
    return ", ".join(f"{n} x {what}" for what, n in counts.most_common()) or "0"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def in_process(app: Any, cookies: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """(rows shown, SQL statements) of one request per page, through the test client."""
    from app.extensions import db

    result = {}
    with app.app_context():
        engine = db.engine
    for path, jar in cookies.items():
        client = app.test_client()
        name, value = jar[0].split("=", 1)
        client.set_cookie(name, value)
        client.get(path)
        statements: list[str] = []

        def count(*args: Any, into: list[str] = statements) -> None:
            into.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            body = client.get(path).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        result[path] = (body.count(ROW_MARKER), len(statements))
    return result


def plans(app: Any, cookies: dict[str, list[str]]) -> list[tuple[str, str]]:
    """EXPLAIN ANALYZE (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of each page's referral queries."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    found: list[tuple[str, str, Any]] = []
    for path, jar in cookies.items():
        client = app.test_client()
        name, value = jar[0].split("=", 1)
        client.set_cookie(name, value)

        def capture(*args: Any, page: str = path) -> None:
            statement, parameters = args[2], args[3]
            if statement.lstrip().upper().startswith("SELECT") and "FROM referral" in statement:
                found.append((page, statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    out = []
    with engine.connect() as conn:
        for page, statement, parameters in found:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            lines = [str(row[0]) if postgres else str(row[-1]) for row in rows]
            shown = (
                "SELECT referral.*, case_file_1.*, service_1.* ...\n" + statement[statement.index("FROM referral") :]
            )
            out.append((page, shown.strip() + "\n\n" + "\n".join(lines)))
    return out


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by gunicorn's master and workers (Linux /proc; 0 elsewhere)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for process in [str(pid), *children]:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return 0.0
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(app: Any, uri: str, cookies: dict[str, list[str]], args: argparse.Namespace) -> list[str]:
    """One Markdown row per page: single user, then --concurrency users, through gunicorn."""
    shown = in_process(app, cookies)
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    server = start_server(uri, port, args.workers, args.threads, log)
    lines = []
    try:
        for path, label in ((INBOX, "inbox (caseworker)"), (SENT, "sent (frontline officer)")):
            single = hammer(port, path, cookies[path][:1], args.single_seconds)
            cpu = server_cpu(server.pid)
            many = hammer(port, path, cookies[path], args.seconds)
            cpu = (server_cpu(server.pid) - cpu) * 1000 / max(1, len(many.samples) + many.errors.total())
            rows, statements = shown[path]
            lines.append(
                f"| `GET {path}` {label} | {rows} | {statements} "
                f"| {statistics.median(single.samples):.1f} ms ({len(single.samples) / single.elapsed:.0f} req/s) "
                f"| {len(cookies[path])} | {len(many.samples) / many.elapsed:.1f} req/s "
                f"| {statistics.median(many.samples):.1f} ms | {percentile(many.samples, 0.95):.1f} ms "
                f"| {cpu:.0f} ms | {errors(single.errors + many.errors)} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"gunicorn log: {log}", file=sys.stderr)
    return lines


def describe_world(world: World, referrals: int) -> str:
    received = world.received
    return (
        f"{referrals:,} referrals from {len(world.senders)} police agencies to {len(world.recipients)} "
        f"support agencies. The measured caseworker's agency received {received.total():,} "
        f"({sum(received[s] for s in AWAITING)} awaiting a decision, {sum(received[s] for s in ACTIVE)} "
        f"accepted or in progress); the measured officer's agency sent {world.sent.total():,}."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--referrals", type=int, default=100000)
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--share", type=float, default=0.01, help="share of referrals of each measured agency")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--single-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()[0]  # other jobs on the machine, before this run adds its own
    uri = database_url(args.database_url) or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if uri.startswith("postgresql"):
        from tests.conftest import reset_postgresql_schema

        reset_postgresql_schema(uri)

    from flask_migrate import upgrade

    from app import create_app

    app = create_app(app_settings(uri))
    with app.app_context():
        upgrade()
    started = time.perf_counter()
    world = generate(app, args.referrals, args.agencies, args.share)
    generation = time.perf_counter() - started
    cookies = sign_in(app, world, args.concurrency)
    lines = measure(app, uri, cookies, args)
    backend = make_url(uri).get_backend_name()
    print(f"\n### Referrals benchmark on {backend}, {args.referrals:,} referrals\n")
    print(describe_world(world, args.referrals))
    print(
        f"Generation {generation:,.0f} s. gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1; "
        f"the client threads run on the same machine ({os.cpu_count()} cores, 1-minute load average "
        f"{load:.1f} from other jobs when the run started). Single user: {args.single_seconds:g} s, "
        f"concurrent users: {args.seconds:g} s each.\n"
    )
    print(
        "| page | rows shown | SQL statements | single user p50 | concurrent users | throughput | p50 | p95 "
        "| app server CPU per request | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for line in lines:
        print(line)
    print("\n#### Query plans\n")
    for page, plan in plans(app, cookies):
        warning = " — SEQUENTIAL SCAN ON referral" if "Seq Scan on referral" in plan else ""
        print(f"`{page}`{warning}:\n\n```\n{plan}\n```\n")


if __name__ == "__main__":
    main()
