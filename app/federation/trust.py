"""Managing the trust list (system administrators, at the console) and reading it when a
package arrives or leaves. Every change is in the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.reference_data import EU_MEMBER_STATES
from app.audit.services import record
from app.extensions import db
from app.federation.envelope import Party, Peer, valid_installation_url
from app.federation.models import FederationKey, FederationPeer, KeyUse

if TYPE_CHECKING:
    from app.accounts.models import User

CURVES = {"Ed25519": KeyUse.SIGNING, "X25519": KeyUse.ENCRYPTION}


class TrustListError(ValueError):
    """A refused change to the trust list: the form field and why (translated; no key
    material in it)."""

    def __init__(self, field: str, message: LazyString) -> None:
        self.field = field
        self.message = message
        super().__init__(str(message))


def _normal_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    if not valid_installation_url(url, allow_local_http=bool(current_app.config.get("FEDERATION_ALLOW_LOCAL_HTTP"))):
        raise TrustListError("base_url", _l("Enter the installation's address: https://..., at most 200 characters."))
    return url


def add_peer(actor: User | None, *, base_url: str, country: str) -> FederationPeer:
    url = _normal_url(base_url)
    code = country.strip().upper()
    if code not in EU_MEMBER_STATES:
        raise TrustListError("country", _l("Choose an EU Member State."))
    if db.session.execute(select(FederationPeer).where(FederationPeer.base_url == url)).scalar_one_or_none():
        raise TrustListError("base_url", _l("This installation is already in the trust list."))
    peer = FederationPeer(base_url=url, country=code, active=True)
    db.session.add(peer)
    db.session.flush()
    record(
        "federation.peer_added",
        actor=actor,
        object_type="federation_peer",
        object_id=peer.id,
        details={"base_url": url, "country": code},
    )
    return peer


def peer_by_url(base_url: str) -> FederationPeer:
    peer = db.session.execute(
        select(FederationPeer).where(FederationPeer.base_url == _normal_url(base_url))
    ).scalar_one_or_none()
    if peer is None:
        raise TrustListError("peer", _l("There is no such installation in the trust list."))
    return peer


def add_key(actor: User | None, peer: FederationPeer, jwk_text: str) -> FederationKey:
    """Add a peer's public key given as a JWK (OKP, Ed25519 for signing or X25519 for
    encryption). A private key is refused: it must never leave its installation."""
    try:
        fields: Any = json.loads(jwk_text)
    except ValueError:
        raise TrustListError("jwk", _l("This is not a key in JWK (JSON) form.")) from None
    if not isinstance(fields, dict) or fields.get("kty") != "OKP" or fields.get("crv") not in CURVES:
        raise TrustListError("jwk", _l("The key must be an OKP key on Ed25519 (signing) or X25519 (encryption)."))
    if "d" in fields:
        raise TrustListError("jwk", _l("This is a private key: only the peer's public key belongs here."))
    try:
        key = OKPKey.import_key({"kty": "OKP", "crv": str(fields["crv"]), "x": str(fields.get("x") or "")})
    except (JoseError, ValueError, TypeError):
        raise TrustListError("jwk", _l("This is not a valid public key.")) from None
    kid = key.thumbprint()
    if db.session.execute(select(FederationKey).where(FederationKey.kid == kid)).scalar_one_or_none():
        raise TrustListError("jwk", _l("This key is already in the trust list."))
    row = FederationKey(
        peer_id=peer.id, kid=kid, use=CURVES[fields["crv"]], public_jwk=json.dumps(key.as_dict(private=False))
    )
    db.session.add(row)
    db.session.flush()
    record(
        "federation.key_added",
        actor=actor,
        object_type="federation_key",
        object_id=row.id,
        details={"peer": peer.id, "kid": kid, "use": row.use.value},
    )
    return row


def revoke_key(actor: User | None, kid: str, *, now: datetime) -> FederationKey:
    row = db.session.execute(select(FederationKey).where(FederationKey.kid == kid.strip())).scalar_one_or_none()
    if row is None:
        raise TrustListError("kid", _l("There is no such key in the trust list."))
    if row.revoked_at is not None:
        raise TrustListError("kid", _l("This key is already revoked."))
    row.revoked_at = now
    db.session.flush()
    record(
        "federation.key_revoked",
        actor=actor,
        object_type="federation_key",
        object_id=row.id,
        details={"peer": row.peer_id, "kid": row.kid},
    )
    return row


def set_peer_active(actor: User | None, peer: FederationPeer, *, active: bool) -> None:
    """Suspend an installation (nothing is accepted from it or sent to it; its keys stay
    listed) or take it back."""
    if peer.active == active:
        raise TrustListError(
            "peer",
            _l("This installation is already active.") if active else _l("This installation is already suspended."),
        )
    peer.active = active
    db.session.flush()
    record(
        "federation.peer_reactivated" if active else "federation.peer_suspended",
        actor=actor,
        object_type="federation_peer",
        object_id=peer.id,
        details={"base_url": peer.base_url, "country": peer.country},
    )


def trusted_signer(kid: str) -> Peer | None:
    """For ``open_package``: the peer whose valid signing key this is, or None."""
    row = db.session.execute(
        select(FederationKey)
        .options(joinedload(FederationKey.peer))
        .where(FederationKey.kid == kid, FederationKey.use == KeyUse.SIGNING, FederationKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or not row.peer.active:
        return None
    return Peer(OKPKey.import_key(json.loads(row.public_jwk)), Party(row.peer.base_url, row.peer.country))


def encryption_key(peer: FederationPeer) -> OKPKey | None:
    """The newest valid key to encrypt packages to ``peer`` with."""
    row = db.session.execute(
        select(FederationKey)
        .where(
            FederationKey.peer_id == peer.id,
            FederationKey.use == KeyUse.ENCRYPTION,
            FederationKey.revoked_at.is_(None),
        )
        .order_by(FederationKey.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return OKPKey.import_key(json.loads(row.public_jwk)) if row is not None else None


def peers() -> list[FederationPeer]:
    return list(
        db.session.execute(
            select(FederationPeer).options(joinedload(FederationPeer.keys)).order_by(FederationPeer.base_url)
        )
        .unique()
        .scalars()
    )
