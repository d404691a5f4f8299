"""Encrypted model fields and key rotation.

A model stores the AES-GCM envelope (``app.core.crypto``) in an ``EncryptedText`` column
and exposes the plaintext through an ``encrypted`` descriptor. The associated data is
``table/column/row id``, so the row's primary key must exist before a value is set:
models with encrypted fields use client-generated ids, or set them after a flush.

``flask keys rotate`` re-encrypts every registered column under the active key, in small
committed batches, while the application keeps running: old values stay readable
because every configured key can still decrypt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Text, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from app.core.crypto import FORMAT_VERSION, associated_data, decrypt, encrypt, key_id_of, keyring


class EncryptedText(TypeDecorator[str]):
    """A column that only ever holds encrypted envelopes; plaintext is refused at bind time."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and not value.startswith(f"{FORMAT_VERSION}:"):
            raise ValueError("plaintext must not reach an encrypted column")
        return value


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[Any]
    attribute: str  # the mapped attribute holding the envelope
    column: str  # the name used in the associated data

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


REGISTRY: list[EncryptedColumn] = []


def register(model: type[Any], attribute: str, column: str | None = None) -> None:
    """Declare an encrypted column so that key rotation finds it."""
    REGISTRY.append(EncryptedColumn(model, attribute, column or attribute))


class encrypted:
    """Descriptor: reading decrypts, writing encrypts, bound to table/column/row id."""

    def __init__(self, storage: str, column: str) -> None:
        self.storage = storage
        self.column = column

    def __set_name__(self, owner: type[Any], name: str) -> None:
        register(owner, self.storage, self.column)

    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        stored = getattr(obj, self.storage)
        if stored is None:
            return None
        table = type(obj).__tablename__
        return decrypt(stored, associated_data(table, self.column, obj.id))

    def __set__(self, obj: Any, value: str | None) -> None:
        if value is None:
            setattr(obj, self.storage, None)
            return
        row_id = obj.id
        if row_id is None:
            raise ValueError("the row needs its id before an encrypted value is set")
        table = type(obj).__tablename__
        setattr(obj, self.storage, encrypt(value, associated_data(table, self.column, row_id)))


@dataclass
class RotationReport:
    examined: int = 0
    rotated: int = 0


def rotate(session: Any, *, batch_size: int = 500) -> Iterator[tuple[EncryptedColumn, RotationReport]]:
    """Re-encrypt every registered column under the active key, committing each batch."""
    ring = keyring()
    active_prefix = f"{FORMAT_VERSION}:{ring.active_key_id}:"
    for spec in REGISTRY:
        report = RotationReport()
        column: InstrumentedAttribute[Any] = getattr(spec.model, spec.attribute)
        primary_key: InstrumentedAttribute[Any] = spec.model.id
        last: Any = None
        while True:
            query = select(spec.model).where(column.is_not(None)).order_by(primary_key).limit(batch_size)
            if last is not None:
                query = query.where(primary_key > last)
            rows = session.execute(query).scalars().all()
            if not rows:
                break
            for row in rows:
                report.examined += 1
                stored = getattr(row, spec.attribute)
                if not stored.startswith(active_prefix):
                    aad = associated_data(spec.table, spec.column, row.id)
                    setattr(row, spec.attribute, encrypt(decrypt(stored, aad, ring), aad, ring))
                    report.rotated += 1
                last = row.id
            session.commit()
        yield spec, report


def key_ids_in_use(session: Any) -> dict[str, int]:
    """How many stored values each key id protects (to know when an old key can go)."""
    counts: dict[str, int] = {}
    for spec in REGISTRY:
        column = getattr(spec.model, spec.attribute)
        for stored in session.execute(select(column).where(column.is_not(None))).scalars():
            kid = key_id_of(stored)
            counts[kid] = counts.get(kid, 0) + 1
    return counts
