"""Fixtures of the notification tests: a local SMTP sink (aiosmtpd) and the app sending to it,
a Redis database of their own, and a referral world with two caseworkers to notify."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from aiosmtpd.controller import Controller
from flask import Flask

from app.accounts.roles import AgencyKind, Role
from app.core import jobs
from tests.conftest import REDIS_URL, unavailable
from tests.factories import make_agency, make_case, make_organization, make_service, make_user

# The notification tests use Redis database 13 on the server of TEST_REDIS_URL.
JOBS_REDIS_URL = urlunsplit(urlsplit(REDIS_URL)._replace(path="/13"))


@dataclass
class Sink:
    """What the SMTP sink received: one entry per message, with its envelope recipients."""

    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, raw in self.received]  # type: ignore[misc]

    @property
    def recipients(self) -> list[str]:
        return [address for tos, _ in self.received for address in tos]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def mail_app(app: Flask, smtp_sink: Sink, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The test app, sending e-mail to the sink (plain SMTP: the sink has no TLS)."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    monkeypatch.setitem(app.config, "MAIL_STARTTLS", False)
    monkeypatch.setitem(app.config, "EXTERNAL_URL", "https://referral.example.gov")
    return app


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """Redis database 13, emptied before and after the test."""
    connection = redis.Redis.from_url(JOBS_REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError:
        unavailable(f"Redis is not reachable at {JOBS_REDIS_URL}")
    connection.flushdb()
    try:
        yield connection
    finally:
        jobs.use_app(None)
        connection.flushdb()
        connection.close()


@pytest.fixture
def rq_app(mail_app: Flask, redis_db: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The test app with its jobs sent to the Redis queue instead of run in-process."""
    monkeypatch.setitem(mail_app.config, "JOBS_REDIS_URL", JOBS_REDIS_URL)
    return mail_app


# Strings that must never leave in an e-mail.
FAMILY_NAME = "Zyxwvutsrq"
SERVICE_NAME = "Harbour House shelter beds"
PURPOSE = "Safe place to sleep tonight"  # the purpose make_referral gives


@dataclass
class World:
    sender: Any
    caseworkers: list[Any]
    supervisor: Any
    other_staff: Any
    case: Any
    service: Any


def build_world() -> World:
    """A police officer referring a case to a shelter with two caseworkers (committed)."""
    police = make_agency("FR", AgencyKind.POLICE)
    shelter = make_agency("FR", AgencyKind.SHELTER)
    organization = make_organization(shelter)
    return World(
        sender=make_user(Role.FRONTLINE, police),
        caseworkers=[make_user(Role.CASEWORKER, shelter), make_user(Role.CASEWORKER, shelter)],
        supervisor=make_user(Role.SUPERVISOR, police),
        other_staff=make_user(Role.AGENCY_ADMIN, shelter),
        case=make_case(police, family_name=FAMILY_NAME),
        service=make_service(organization, name=SERVICE_NAME),
    )
