"""Business rules of the identification area (catalogue versions so far)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.roles import Role
from app.accounts.services import FieldError
from app.audit.services import record
from app.core.errors import PermissionDenied
from app.extensions import db
from app.identification.catalogue import Catalogue, bundled_catalogue, parse_catalogue
from app.identification.models import CatalogueVersion

MAX_CATALOGUE_BYTES = 1024 * 1024


@lru_cache(maxsize=32)
def _parsed(sha256: str, source_text: str) -> Catalogue:
    return parse_catalogue(source_text)


def active_version(member_state_code: str) -> CatalogueVersion | None:
    return db.session.execute(
        select(CatalogueVersion).where(
            CatalogueVersion.member_state_code == member_state_code, CatalogueVersion.active.is_(True)
        )
    ).scalar_one_or_none()


def active_catalogue(member_state_code: str) -> Catalogue:
    """The catalogue a Member State uses now: its loaded national version, else the bundled one."""
    row = active_version(member_state_code)
    return _parsed(row.sha256, row.source_text) if row is not None else bundled_catalogue()


def versions(member_state_code: str) -> list[CatalogueVersion]:
    return list(
        db.session.execute(
            select(CatalogueVersion)
            .options(joinedload(CatalogueVersion.loaded_by))
            .where(CatalogueVersion.member_state_code == member_state_code)
            .order_by(CatalogueVersion.loaded_at.desc(), CatalogueVersion.id.desc())
        ).scalars()
    )


def can_manage_catalogue(actor: User, member_state_code: str) -> bool:
    return actor.role == Role.FOCAL_POINT and actor.agency.member_state_code == member_state_code


def load_catalogue(actor: User, member_state_code: str, raw: bytes) -> CatalogueVersion:
    """Validate and activate a national catalogue version. A bad file changes nothing:
    CatalogueInvalid (with line numbers) or FieldError propagates and the active version stays."""
    if not can_manage_catalogue(actor, member_state_code):
        raise PermissionDenied()
    if len(raw) > MAX_CATALOGUE_BYTES:
        raise FieldError("file", _l("The file is larger than 1 MB."))
    try:
        source_text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FieldError("file", _l("The file must be UTF-8 text.")) from None
    catalogue = parse_catalogue(source_text)
    clash = db.session.execute(
        select(CatalogueVersion.id).where(
            CatalogueVersion.member_state_code == member_state_code,
            CatalogueVersion.catalogue_id == catalogue.id,
            CatalogueVersion.version == catalogue.version,
        )
    ).first()
    if clash is not None or catalogue.key == bundled_catalogue().key:
        raise FieldError(
            "file", _l("Version %(key)s is already loaded. Give the new file a new version.", key=catalogue.key)
        )
    db.session.execute(
        update(CatalogueVersion)
        .where(CatalogueVersion.member_state_code == member_state_code, CatalogueVersion.active.is_(True))
        .values(active=False)
    )
    db.session.flush()
    row = CatalogueVersion(
        member_state_code=member_state_code,
        catalogue_id=catalogue.id,
        version=catalogue.version,
        source_text=source_text,
        sha256=hashlib.sha256(raw).hexdigest(),
        loaded_by_id=actor.id,
        active=True,
    )
    db.session.add(row)
    db.session.flush()
    record(
        "catalogue.loaded",
        actor=actor,
        object_type="catalogue_version",
        object_id=row.id,
        details={"catalogue": catalogue.key, "member_state": member_state_code, "sha256": row.sha256},
    )
    return row


def catalogue_for_key(member_state_code: str, key: str) -> Catalogue:
    """The catalogue version a record was made with, even after a newer one was loaded."""
    bundled = bundled_catalogue()
    if key == bundled.key:
        return bundled
    catalogue_id, _, version = key.partition("@")
    row = db.session.execute(
        select(CatalogueVersion).where(
            CatalogueVersion.member_state_code == member_state_code,
            CatalogueVersion.catalogue_id == catalogue_id,
            CatalogueVersion.version == version,
        )
    ).scalar_one()
    return _parsed(row.sha256, row.source_text)
