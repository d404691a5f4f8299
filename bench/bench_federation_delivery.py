"""End-to-end delivery latency between two local installations (issue 5): from a package
queued in the sender's outbox (sealed, stored, committed) to its signed delivery receipt
verified and committed by the sender, through the receiver's HTTP endpoint running as a
process of its own (decrypt, verify, every check, inbox row, audit entry, signed receipt).

Run: .venv/bin/python bench/bench_federation_delivery.py [--packages 300] [--database sqlite|postgresql]
PostgreSQL uses TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) and
creates two scratch databases beside it. 2 cores: both installations and the sender's worker
share them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from app.core.db import utcnow
from app.extensions import db
from app.federation import transport, trust
from app.federation.models import FederationOutbox
from tests.federation.two_installations import drop_database, installation, introduce

BODY = {
    "note": "A realistic body is about 4 KB: see bench_federation.py. " * 60,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    base = (
        os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
        if args.database == "postgresql"
        else "sqlite:///unused"
    )
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.split("://", 1)[1]
    with tempfile.TemporaryDirectory() as tmp:
        sender = installation(base, "bench_fr", "FR", Path(tmp))
        receiver = installation(base, "bench_ro", "RO", Path(tmp))
        introduce(sender, receiver)
        introduce(receiver, sender)
        receiver.start()
        try:
            latencies = []
            with sender.app.app_context():
                peer_id = trust.peer_by_url(receiver.base_url).id
                for _ in range(args.packages):
                    started = time.perf_counter()
                    peer = db.session.get(trust.FederationPeer, peer_id)
                    assert peer is not None
                    transport.enqueue(peer, "request", BODY, now=utcnow())
                    db.session.commit()
                    counts = transport.deliver_due(utcnow())
                    latencies.append(time.perf_counter() - started)
                    if counts.delivered != 1:
                        row = (
                            db.session.execute(select(FederationOutbox).order_by(FederationOutbox.created_at.desc()))
                            .scalars()
                            .first()
                        )
                        raise SystemExit(f"not delivered: {counts} {row.last_error if row else None}")
        finally:
            receiver.stop()
            for side in (sender, receiver):
                with side.app.app_context():
                    db.session.remove()
                    db.engine.dispose()
                drop_database(side.database_url)
    ordered = sorted(latencies)
    print(f"### Federation delivery, {args.packages} packages, {args.database}\n")
    print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| queued -> delivered with a verified receipt | p50 | p95 | max | packages per second, one after another |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| two processes on 127.0.0.1 | {ordered[len(ordered) // 2] * 1e3:.1f} ms "
        f"| {ordered[int(len(ordered) * 0.95)] * 1e3:.1f} ms | {ordered[-1] * 1e3:.1f} ms "
        f"| {len(latencies) / sum(latencies):,.0f} |"
    )


if __name__ == "__main__":
    main()
