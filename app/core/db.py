"""Declarative base, naming convention and common column mixins."""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Enum, MetaData, event, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Current UTC time as a naive datetime (the database stores UTC without zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, server_default=func.now())


# Set for the length of a web request, a job or a writing command: its transactions take
# SQLite's write lock up front.
writes_expected: contextvars.ContextVar[bool] = contextvars.ContextVar("writes_expected", default=False)


@contextmanager
def expecting_writes(expected: bool = True) -> Iterator[None]:
    """Transactions begun inside take SQLite's write lock up front (or, with False, read
    without it, e.g. a long verification). No effect on PostgreSQL."""
    token = writes_expected.set(expected)
    try:
        yield
    finally:
        writes_expected.reset(token)


def configure_sqlite(engine: Engine) -> None:
    """SQLite, the embedded default: foreign keys on, WAL, and a request's transactions take
    the write lock up front (BEGIN IMMEDIATE, the recipe in SQLAlchemy's pysqlite notes).

    Nearly every request writes an audit entry after reading, and SQLite cannot upgrade a
    read snapshot that another writer has overtaken (it ignores SELECT ... FOR UPDATE): the
    request would fail with "database is locked". Taking the lock first makes concurrent
    requests queue on the busy timeout instead. Other transactions (CLI, jobs, tests'
    set-up) begin deferred, so a reader never holds the write lock.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes_expected.get() else "BEGIN")


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A string column with a CHECK constraint listing the enum's values (portable)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=40,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
