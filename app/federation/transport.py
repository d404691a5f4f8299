"""Delivering packages to peer installations, and receiving theirs (docs/FEDERATION.md).

Sending: ``enqueue`` seals a package for a peer and stores it in the outbox in the caller's
transaction; ``deliver_due`` (the delivery job, the periodic tick, ``flask federation
deliver``) POSTs what is due to the peer's ``/federation/inbox`` and keeps the peer's
signed delivery receipt. A peer that is down or answers 5xx or 429 is retried with
exponential back-off (30 s, 1 min, 2 min ... up to ``FEDERATION_MAX_BACKOFF_SECONDS``),
forever: nothing is lost. A package the peer refuses (a 4xx with a refusal code) is not
retried and stays listed for the administrators. Each package is committed after its
attempt, so a crash never delivers one twice from here; the receiver accepts each id once.

Receiving: ``receive`` opens a package with every check of ``envelope.open_package``
against this installation's keys and trust list, stores it once per id (the inbox, body
encrypted), records the refusal codes, and answers with a receipt signed by this
installation: a redelivered package (its answer was lost) is refused as a replay and
changes nothing, but gets the receipt of the first delivery, so its sender stops.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.audit.services import record
from app.core import jobs
from app.extensions import db
from app.federation import identity, trust
from app.federation.envelope import (
    MAX_PACKAGE_BYTES,
    SIGNATURE_ALG,
    PackageRefused,
    Party,
    new_package,
    open_package,
    seal,
    timestamp,
)
from app.federation.models import FederationInbox, FederationKey, FederationOutbox, FederationPeer, KeyUse

log = logging.getLogger(__name__)

INBOX_PATH = "/federation/inbox"
CONTENT_TYPE = "application/jose"
RECEIPT_TYPE = "thb-delivery-receipt+jws"
FIRST_BACKOFF = timedelta(seconds=30)
BATCH = 100

# The receiver's HTTP status for each refusal code.
REFUSAL_STATUS = {
    "oversized": 413,
    "malformed": 400,
    "wrong_encryption": 400,
    "not_for_us": 400,
    "undecryptable": 400,
    "unsigned": 401,
    "untrusted_key": 403,
    "bad_signature": 403,
    "sender_mismatch": 403,
    "expired": 400,
    "from_the_future": 400,
    "replayed": 409,
    # Refused by what the package asks of this installation (its handler, below).
    "invalid_body": 422,
    "unknown_referral": 404,
    "not_applicable": 409,
}


class NotApplicable(Exception):
    """A handler's refusal of a well-sealed package whose content cannot be applied here:
    ``invalid_body`` (not what its kind holds), ``unknown_referral`` (about a referral this
    installation never exchanged with that peer) or ``not_applicable`` (not possible in the
    referral's state: out of order, or already there). Nothing is kept, the refusal is recorded."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# What to do with an accepted package, by kind (the referrals domain registers its own):
# called in the transaction that keeps the package, so both happen or neither does.
Handler = Callable[[FederationPeer, dict[str, Any], datetime], None]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register


class NoEncryptionKey(RuntimeError):
    """The peer has no valid encryption key in the trust list: nothing can be sealed for it."""


class PackageTooLarge(ValueError):
    """Sealed, the package would be larger than a receiver accepts (``MAX_PACKAGE_BYTES``)."""


# -- sending ----------------------------------------------------------------------------


def enqueue(peer: FederationPeer, kind: str, body: dict[str, Any], *, now: datetime) -> FederationOutbox:
    """Queue a package for ``peer`` in the caller's transaction; the delivery job runs once
    that transaction commits. Refused when the peer cannot be sealed for (inactive, or no
    valid encryption key in the trust list: ``NoEncryptionKey``) or the package would be too
    large for it (``PackageTooLarge``)."""
    recipient_key = trust.encryption_key(peer)
    if recipient_key is None or not peer.active:
        raise NoEncryptionKey(peer.base_url)
    package = new_package(
        kind, body, sender=identity.us(), recipient=Party(peer.base_url, peer.country), now=now.replace(tzinfo=UTC)
    )
    # Sealed once now to be sure it fits: the peer would refuse it as oversized, for good.
    if len(seal(package, signing_key=identity.signing_key(), recipient_key=recipient_key)) > MAX_PACKAGE_BYTES:
        raise PackageTooLarge(kind)
    row = FederationOutbox(
        id=package["id"], peer_id=peer.id, kind=kind, created_at=now, attempts=0, next_attempt_at=now
    )
    row.package = rfc8785.dumps(package).decode("utf-8")
    db.session.add(row)
    db.session.flush()
    _record_outbox("federation.package_queued", row, kind=kind)
    if current_app.config.get("FEDERATION_DELIVER_AT_ONCE", True):
        jobs.enqueue("app.federation.transport.deliver_now")
    return row


def _sealed(row: FederationOutbox, now: datetime) -> str | None:
    """The package sealed for this attempt: issued now, to the peer's current key (None when
    the peer has no valid encryption key any more)."""
    recipient_key = trust.encryption_key(row.peer)
    if recipient_key is None:
        return None
    package = json.loads(row.package)
    package["issued_at"] = timestamp(now)
    return seal(package, signing_key=identity.signing_key(), recipient_key=recipient_key)


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed attempts: 30 s, 1 min, 2 min, ... capped."""
    cap = timedelta(seconds=int(current_app.config.get("FEDERATION_MAX_BACKOFF_SECONDS", 3600)))
    wait: timedelta = FIRST_BACKOFF * (2 ** max(attempts - 1, 0))
    return min(wait, cap)


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retrying: int = 0
    refused: int = 0


def deliver_now() -> None:
    """The job queued by ``enqueue``: deliver what is due at once. In an RQ worker it runs
    there; in-process (no Redis) it runs in a thread of its own, with its own session, so
    that neither the committing request nor its transaction waits on a peer."""
    from app.core.db import utcnow

    if current_app.config.get("JOBS_REDIS_URL"):
        deliver_due(utcnow())
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            try:
                deliver_due(utcnow())
            except Exception as exc:
                log.error("federation: delivery failed: %s", type(exc).__name__)

    threading.Thread(target=run, name="federation-delivery", daemon=True).start()


def deliver_due(now: datetime) -> DeliveryCounts:
    """Try what is due, peer by peer, each peer's packages in the order they were queued (a
    receipt must not overtake the referral it is about); each attempt is committed on its
    own. A peer's run stops at its first package that is not due yet or fails: one peer that
    is down costs one timeout per run, not one per package, its packages keep their order,
    and the other peers are not held up, however many packages wait for it."""
    counts = DeliveryCounts()
    waiting = (FederationOutbox.delivered_at.is_(None), FederationOutbox.refused_at.is_(None))
    peer_ids = list(db.session.execute(select(FederationOutbox.peer_id).where(*waiting).distinct()).scalars())
    for peer_id in sorted(peer_ids):
        queued = list(
            db.session.execute(
                select(FederationOutbox.id, FederationOutbox.next_attempt_at)
                .where(*waiting, FederationOutbox.peer_id == peer_id)
                .order_by(FederationOutbox.created_at, FederationOutbox.id)
                .limit(BATCH)
            ).all()
        )
        db.session.commit()
        for outbox_id, next_attempt_at in queued:
            if next_attempt_at > now:
                break
            outcome = _attempt_one(outbox_id, now)
            if outcome is None:
                break  # taken by another worker meanwhile: it goes on with this peer
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            if outcome == "retrying":
                break
    return counts


def _attempt_one(outbox_id: str, now: datetime) -> str | None:
    """One attempt, committed; None when the package was delivered or taken meanwhile."""
    # The row lock (PostgreSQL) is held during the attempt: two workers never send the
    # same package at once. On SQLite the receiver's once-per-id keeps it harmless.
    row = db.session.execute(
        select(FederationOutbox)
        .options(joinedload(FederationOutbox.peer, innerjoin=True))
        .where(FederationOutbox.id == outbox_id, FederationOutbox.delivered_at.is_(None))
        .with_for_update(skip_locked=True, of=FederationOutbox)
    ).scalar_one_or_none()
    if row is None or row.refused_at is not None or row.next_attempt_at > now:
        db.session.rollback()
        return None
    try:
        outcome = _attempt(row, now)
    except Exception as exc:  # a bug or an odd answer must not stop the other deliveries
        db.session.rollback()
        log.error("federation: delivery attempt failed: %s", type(exc).__name__)
        row = db.session.get(FederationOutbox, outbox_id)
        if row is None:
            return None
        row.attempts += 1
        outcome = _retry(row, now, "error")
    db.session.commit()
    return outcome


def _post(url: str, token: str) -> tuple[int | None, dict[str, Any]]:
    """(HTTP status, JSON answer); (None, {}) when the peer cannot be reached."""
    request = urllib.request.Request(  # noqa: S310 - the URL comes from the trust list (https://)
        url, data=token.encode("ascii"), headers={"Content-Type": CONTENT_TYPE}, method="POST"
    )
    timeout = float(current_app.config.get("FEDERATION_TIMEOUT_SECONDS", 10))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read(MAX_PACKAGE_BYTES)
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read(MAX_PACKAGE_BYTES)
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException, ValueError):
        return None, {}  # down, refusing connections, timing out, or not speaking HTTP
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def _attempt(row: FederationOutbox, now: datetime) -> str:
    row.attempts += 1
    if not row.peer.active:
        return _retry(row, now, "suspended")  # kept until the installation is taken back
    token = _sealed(row, now)
    if token is None:
        return _retry(row, now, "no_encryption_key")
    status, answer = _post(row.peer.base_url + INBOX_PATH, token)
    receipt = answer.get("receipt")
    if status in (200, 409) and (status == 200 or answer.get("refused") == "replayed"):
        if isinstance(receipt, str) and verify_receipt(receipt, row.peer, row.id) is not None:
            row.delivered_at = now
            row.receipt = receipt
            row.last_error = None
            _record_outbox("federation.package_delivered", row, attempts=row.attempts)
            return "delivered"
        return _retry(row, now, "bad_receipt")
    if status is not None and 400 <= status < 500 and status != 429 and isinstance(answer.get("refused"), str):
        row.refused_at = now
        row.last_error = ("refused:" + answer["refused"])[:40]
        _record_outbox("federation.package_refused_by_peer", row, refusal=row.last_error)
        log.warning("federation: peer %s refused package %s: %s", row.peer_id, row.id, row.last_error)
        return "refused"
    return _retry(row, now, "unreachable" if status is None else f"http_{status}")


def _record_outbox(action: str, row: FederationOutbox, *, actor: Any = None, **details: Any) -> None:
    record(
        action,
        actor=actor,
        object_type="federation_outbox",
        object_id=row.id,
        details={"package": row.id, "peer": row.peer_id, **details},
    )


def _retry(row: FederationOutbox, now: datetime, error: str) -> str:
    row.last_error = error
    row.next_attempt_at = now + backoff(row.attempts)
    log.info("federation: package %s to peer %s: %s, attempt %s", row.id, row.peer_id, error, row.attempts)
    return "retrying"


def retry_refused(actor: Any, package_id: str, *, now: datetime) -> FederationOutbox:
    """An administrator sends a refused package again (say the peer had not yet added our
    new key): it becomes due at once and is audited."""
    row = db.session.get(FederationOutbox, package_id)
    if row is None or row.refused_at is None:
        raise LookupError(package_id)
    refusal = row.last_error
    row.refused_at = None
    row.last_error = None
    row.next_attempt_at = now
    db.session.flush()
    _record_outbox("federation.package_requeued", row, actor=actor, refusal=refusal)
    return row


def undelivered(limit: int = 50) -> list[FederationOutbox]:
    """For the administrators: packages not delivered yet (retrying) or refused by the peer."""
    return list(
        db.session.execute(
            select(FederationOutbox)
            .options(joinedload(FederationOutbox.peer))
            .where(FederationOutbox.delivered_at.is_(None))
            .order_by(FederationOutbox.created_at)
            .limit(limit)
        ).scalars()
    )


# -- receipts ---------------------------------------------------------------------------


def delivery_receipt(package_id: str, received_at: datetime) -> str:
    """A compact JWS by this installation: "package ``package_id`` was accepted at ..."."""
    key = identity.signing_key()
    payload = rfc8785.dumps(
        {
            "typ": "delivery-receipt",
            "package": package_id,
            "received_at": timestamp(received_at),
            "by": identity.us().installation,
        }
    )
    return jws.serialize_compact(
        {"alg": SIGNATURE_ALG, "kid": key.thumbprint(), "typ": RECEIPT_TYPE}, payload, key, algorithms=[SIGNATURE_ALG]
    )


def verify_receipt(token: str, peer: FederationPeer, package_id: str) -> dict[str, Any] | None:
    """The receipt's content when ``peer`` signed it (a valid key of the trust list) for
    ``package_id``; None otherwise."""
    try:
        kid = jws.extract_compact(token.encode("ascii")).protected.get("kid")
    except (JoseError, ValueError, TypeError, UnicodeEncodeError):
        return None
    signer = trust.trusted_signer(str(kid))
    if signer is None or signer.party != Party(peer.base_url, peer.country):
        return None
    try:
        content = json.loads(jws.deserialize_compact(token, signer.key, algorithms=[SIGNATURE_ALG]).payload)
    except (JoseError, ValueError, TypeError):
        return None
    if not isinstance(content, dict) or content.get("typ") != "delivery-receipt":
        return None
    if content.get("package") != package_id or content.get("by") != peer.base_url:
        return None
    return content


# -- receiving --------------------------------------------------------------------------


def _peer_of(kid: str) -> FederationPeer:
    return db.session.execute(
        select(FederationPeer)
        .join(FederationPeer.keys)
        .where(FederationKey.kid == kid, FederationKey.use == KeyUse.SIGNING)
    ).scalar_one()


def receive(token: bytes, *, now: datetime) -> tuple[int, dict[str, Any]]:
    """Open, check and keep a package; (HTTP status, JSON answer). The caller commits."""
    if not identity.enabled():
        return 404, {"refused": "not_federated"}
    seen: dict[str, FederationInbox] = {}

    def already_received(package_id: str) -> bool:
        earlier = db.session.get(FederationInbox, package_id)
        if earlier is not None:
            seen["earlier"] = earlier
        return earlier is not None

    try:
        opened = open_package(
            token,
            us=identity.us(),
            decryption_keys=identity.decryption_keys(),
            trusted=trust.trusted_signer,
            already_received=already_received,
            now=now,
            allow_local_http=bool(current_app.config.get("FEDERATION_ALLOW_LOCAL_HTTP")),
        )
    except PackageRefused as refused:
        earlier = seen.get("earlier")
        if earlier is not None and refused.sender != Party(earlier.peer.base_url, earlier.peer.country):
            earlier = None  # another peer's package id: no receipt of theirs to a third party
        return _refused(refused.code, earlier)
    try:
        body = rfc8785.dumps(opened.body).decode("utf-8")
    except (ValueError, TypeError, OverflowError):  # NaN, integers beyond JSON's safe range...
        return _refused("malformed", None)
    peer = _peer_of(opened.signing_kid)
    row = FederationInbox(id=opened.id, peer_id=peer.id, kind=opened.kind, issued_at=opened.issued_at)
    row.received_at = now
    row.body = body
    handler = HANDLERS.get(opened.kind)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            try:
                db.session.flush()
            except IntegrityError:  # the same package arriving twice at once: the other one won
                raise _Replayed() from None
            if handler is not None:
                handler(peer, opened.body, now)
    except _Replayed:
        return _refused("replayed", db.session.get(FederationInbox, opened.id))
    except NotApplicable as refused:
        return _refused(refused.code, None, peer=peer.id, package=opened.id)
    record(
        "federation.package_received",
        actor=None,
        object_type="federation_inbox",
        object_id=row.id,
        details={"package": row.id, "peer": row.peer_id, "kind": row.kind},
    )
    return 200, {"receipt": delivery_receipt(row.id, now)}


class _Replayed(Exception):
    pass


def refuse_oversized() -> tuple[int, dict[str, Any]]:
    """Refused before reading: the request announces more than a package may hold."""
    return _refused("oversized", None)


def _refused(code: str, earlier: FederationInbox | None, **about: Any) -> tuple[int, dict[str, Any]]:
    details: dict[str, Any] = {"refusal": code, **about}
    if earlier is not None:
        details.update(package=earlier.id, peer=earlier.peer_id)
    record("federation.package_refused", actor=None, object_type="federation_inbox", details=details)
    log.warning("federation: package refused: %s", code)
    answer: dict[str, Any] = {"refused": code}
    if earlier is not None:
        answer["receipt"] = delivery_receipt(earlier.id, earlier.received_at)
    return REFUSAL_STATUS.get(code, 400), answer
