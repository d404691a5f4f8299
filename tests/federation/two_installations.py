"""Two installations on 127.0.0.1, each a process of its own with its own database, that
trust each other (the two-installation tests and ``bench/bench_federation_delivery.py``).

The test process also opens each installation's database with an app of the same settings:
that is how it queues packages and runs each side's delivery worker, as ``flask federation
deliver`` or an RQ worker would beside the web process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.federation import identity, trust

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Installation:
    name: str
    country: str
    database_url: str
    port: int
    settings: dict[str, Any]
    app: Flask
    process: subprocess.Popen[bytes] | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "INSTALLATION_DATABASE_URL": self.database_url,
            "INSTALLATION_PORT": str(self.port),
            "INSTALLATION_SETTINGS": json.dumps(self.settings),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.federation.installation"], cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"installation {self.name} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _database(base_uri: str, name: str, tmp: Path) -> str:
    if base_uri.startswith("postgresql"):
        url = make_url(base_uri)
        database = f"{url.database}_{name}"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        return url.set(database=database).render_as_string(hide_password=False)
    return f"sqlite:///{tmp / f'{name}.db'}"


def drop_database(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        url = make_url(database_url)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def installation(base_uri: str, name: str, country: str, tmp: Path) -> Installation:
    database_url = _database(base_uri, name, tmp)
    port = free_port()
    keys = identity.new_keys()
    settings: dict[str, Any] = {
        "FEDERATION_BASE_URL": f"http://127.0.0.1:{port}",
        "FEDERATION_COUNTRY": country,
        "FEDERATION_SIGNING_KEY": keys["FEDERATION_SIGNING_KEY"],
        "FEDERATION_ENCRYPTION_KEYS": [keys["FEDERATION_ENCRYPTION_KEYS"]],
        "FEDERATION_ALLOW_LOCAL_HTTP": True,
        "FEDERATION_DELIVER_AT_ONCE": False,  # the tests run each side's delivery worker
        "FEDERATION_TIMEOUT_SECONDS": 5,
        "RATELIMIT_STORAGE_URI": "memory://",
        # The benchmark sends hundreds a minute from one address (production: 60).
        "FEDERATION_INBOX_LIMIT": "10000/minute",
    }
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False, **settings})
    with app.app_context():
        upgrade()
    return Installation(name, country, database_url, port, settings, app, keys=keys)


def introduce(one: Installation, other: Installation) -> None:
    """``one`` puts ``other`` and its public keys in its trust list, as its administrator would."""
    with other.app.app_context():
        jwks = identity.public_jwks()
    with one.app.app_context():
        peer = trust.add_peer(None, base_url=other.base_url, country=other.country)
        for jwk in jwks:
            trust.add_key(None, peer, json.dumps({k: jwk[k] for k in ("kty", "crv", "x")}))
        db.session.commit()


@contextmanager
def running_pair(
    base_uri: str, tmp: Path, first: tuple[str, str], second: tuple[str, str]
) -> Iterator[tuple[Installation, Installation]]:
    """Two installations ((name, country) each) that trust each other, serving HTTP; both
    stopped and their databases dropped afterwards."""
    one = installation(base_uri, first[0], first[1], tmp)
    other = installation(base_uri, second[0], second[1], tmp)
    introduce(one, other)
    introduce(other, one)
    one.start()
    other.start()
    try:
        yield one, other
    finally:
        for side in (one, other):
            side.stop()
            with side.app.app_context():
                db.session.remove()
                db.engine.dispose()
            drop_database(side.database_url)
