"""Referrals between installations (issue 5; the bodies are specified in docs/FEDERATION.md).

A referral to a country served by a peer installation is made here like any cross-border
referral, approved by this country's focal point, and then travels as a ``referral``
package: the shared parts only, as the receiving side may read them, under the referral's
id, which both installations keep. The peer keeps a copy *at the receiving focal point*
(no case, no sender account there: the snapshot of what was shared), routes it to one of
its services, and the service answers as usual. Every status change on one side travels to
the other as a ``receipt`` package naming the referral and the action, and is applied there
through the one transition table, as the side that made it; so is a request for the
identification details and the answer to it. A receipt about a referral the two never
exchanged, or one the referral's state does not allow, is refused and recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit.services import record
from app.core.errors import Conflict, PermissionDenied
from app.directory.vocabulary import ServiceType
from app.extensions import db
from app.federation import identity, transport
from app.federation.envelope import parse_timestamp, timestamp
from app.federation.models import FederationPeer
from app.federation.transport import NotApplicable
from app.referrals.models import Referral
from app.referrals.policies import PEER_RECEIVING, PEER_SENDING
from app.referrals.sharing import IDENTITY_FIELDS, identity_of, shared_from, snapshot
from app.referrals.vocabulary import DeclineReason, LegalBasis, Outcome, ReferralStatus, SharedPart, Urgency

# Status changes made on the receiving side that travel back to the sender, and those made
# on the sending side that travel to the receiver (once the receiver has the referral).
FROM_RECEIVING_SIDE = ("route", "decline", "acknowledge", "accept", "start", "complete", "expire", "reopen")
FROM_SENDING_SIDE = ("withdraw",)
IDENTITY_ACTIONS = ("identity_requested", "identity_released", "identity_refused")

MAX_TEXT = 2000
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")


class PeerUnavailable(Conflict):
    """Nothing can be sealed for the peer now (suspended, or no valid key in the trust list)."""

    def __init__(self) -> None:
        super().__init__(
            _l(
                "The other country's installation cannot be reached through this system now (suspended, or "
                "without a valid key). Ask your system administrator, or contact its focal point directly."
            )
        )


def peer_for(country: str) -> FederationPeer | None:
    """The active peer installation that serves ``country``, when this one is federated."""
    if not identity.enabled() or country == identity.us().country:
        return None
    return db.session.execute(
        select(FederationPeer)
        .where(FederationPeer.country == country, FederationPeer.active.is_(True))
        .order_by(FederationPeer.id)
        .limit(1)
    ).scalar_one_or_none()


def peer_countries() -> list[str]:
    """Countries served by an active peer installation, for the referral form."""
    if not identity.enabled():
        return []
    ours = identity.us().country
    rows = db.session.execute(
        select(FederationPeer.country).where(FederationPeer.active.is_(True)).distinct()
    ).scalars()
    return sorted(c for c in rows if c != ours)


def _time(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment is not None else None


def _written(text: str | None, language: str | None) -> dict[str, Any] | None:
    return {"text": text, "language": language} if text else None


# -- sending -----------------------------------------------------------------------------


def _enqueue(referral: Referral, kind: str, body: dict[str, Any], now: datetime) -> None:
    peer = db.session.get(FederationPeer, referral.peer_id)
    assert peer is not None
    try:
        transport.enqueue(peer, kind, body, now=now)
    except transport.NoEncryptionKey:
        raise PeerUnavailable() from None
    except transport.PackageTooLarge:
        raise Conflict(
            _l(
                "The referral is too large to travel to the other country's installation: it must share fewer "
                "parts (the notes, say). Withdraw it and make it again with fewer parts."
            )
        ) from None


def send_referral(referral: Referral, now: datetime) -> None:
    """The sending focal point has approved (or made) the referral: it goes to the peer."""
    assert referral.case is not None and referral.service_type is not None
    person = snapshot(referral, now.date())
    body: dict[str, Any] = {
        "referral": referral.id,
        "origin": referral.origin_state_code,
        "destination": referral.member_state_code,
        "urgency": referral.urgency.value,
        "service_type": referral.service_type.value,
        "legal_basis": referral.legal_basis.value,
        "justification": _written(referral.justification, referral.purpose_language),
        "purpose": _written(referral.purpose, referral.purpose_language),
        "pseudonymised": referral.pseudonymised,
        "shared_parts": list(referral.shared_parts),
        "sender": referral.sender_label,
        "person": person,
    }
    _enqueue(referral, "referral", body, now)
    record(
        "referral.sent_to_peer",
        actor=None,
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        details={"peer": referral.peer_id, "parts": person["parts"]},
    )


def send_update(referral: Referral, action: str, now: datetime) -> None:
    """A change made here that the peer's copy must follow."""
    body: dict[str, Any] = {"referral": referral.id, "action": action, "at": _time(now)}
    if action in ("route", "reopen"):
        body["due_at"] = _time(referral.due_at)
    if action == "route":
        body["service"] = referral.service_label
    elif action == "decline":
        assert referral.decline_reason is not None
        body["reason"] = referral.decline_reason.value
        body["note"] = _written(referral.decline_note, referral.decline_note_language)
    elif action == "complete":
        assert referral.outcome is not None
        body["outcome"] = referral.outcome.value
        body["services_delivered"] = _written(referral.services_delivered, referral.services_delivered_language)
    elif action == "identity_requested":
        body["reason"] = _written(referral.identity_request, referral.identity_request_language)
    elif action == "identity_released":
        body["identity"] = identity_of(referral)
    _enqueue(referral, "receipt", body, now)


def after_transition(referral: Referral, action: str, previous: ReferralStatus, now: datetime) -> None:
    """Called for each change made here to a referral shared with a peer."""
    if referral.peer_side == PEER_RECEIVING:
        if action in ("approve", "forward"):
            send_referral(referral, now)
        elif action in FROM_SENDING_SIDE and previous not in _BEFORE_THE_PEER:
            send_update(referral, action, now)
    elif referral.peer_side == PEER_SENDING and action in FROM_RECEIVING_SIDE:
        send_update(referral, action, now)


# Stages the peer has not seen the referral in yet (it is still with the sending side).
_BEFORE_THE_PEER = (
    ReferralStatus.DRAFT,
    ReferralStatus.FOCAL_POINT_REVIEW,
    ReferralStatus.RETURNED,
    ReferralStatus.DECLINED,
    ReferralStatus.EXPIRED,
    ReferralStatus.WITHDRAWN,
)


# -- receiving ---------------------------------------------------------------------------


def _invalid() -> NotApplicable:
    return NotApplicable("invalid_body")


def _text(value: Any, *, required: bool = False) -> tuple[str | None, str | None]:
    """A free text as it travels: {"text": ..., "language": ...} or null."""
    if value is None and not required:
        return None, None
    if not isinstance(value, dict) or set(value) != {"text", "language"}:
        raise _invalid()
    text, language = value["text"], value["language"]
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise _invalid()
    if language is not None and not (isinstance(language, str) and _LANGUAGE.match(language)):
        raise _invalid()
    return text, language


def _choice(value: Any, vocabulary: Callable[[str], Any]) -> Any:
    try:
        return vocabulary(value)
    except (ValueError, TypeError):
        raise _invalid() from None


def _parsed_time(value: Any) -> datetime:
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, AttributeError):
        raise _invalid() from None


def _label(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _invalid()
    return value.strip()


REFERRAL_MEMBERS = {
    "referral",
    "origin",
    "destination",
    "urgency",
    "service_type",
    "legal_basis",
    "justification",
    "purpose",
    "pseudonymised",
    "shared_parts",
    "sender",
    "person",
}


@transport.handles("referral")
def receive_referral(peer: FederationPeer, body: dict[str, Any], now: datetime) -> None:
    """A referral from a peer: kept at this country's focal point, which routes it."""
    from app.referrals import services

    if set(body) != REFERRAL_MEMBERS or not isinstance(body["referral"], str) or not _UUID.match(body["referral"]):
        raise _invalid()
    if body["origin"] != peer.country or body["destination"] != identity.us().country:
        raise _invalid()
    person = body["person"]
    if not isinstance(person, dict) or not isinstance(body["pseudonymised"], bool):
        raise _invalid()
    parts = body["shared_parts"]
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise _invalid()
    purpose, purpose_language = _text(body["purpose"], required=True)
    justification, _language = _text(body["justification"])
    basis = _choice(body["legal_basis"], LegalBasis)
    if basis == LegalBasis.VITAL_INTEREST and justification is None:
        raise _invalid()
    _check_snapshot(person)
    referral = db.session.get(Referral, body["referral"])
    if referral is None:
        referral = Referral(
            id=body["referral"],
            peer_id=peer.id,
            peer_side=PEER_SENDING,
            member_state_code=body["destination"],
            origin_state_code=body["origin"],
            status=ReferralStatus.DRAFT,
            legal_basis=basis,
        )
        db.session.add(referral)
    elif referral.peer_id != peer.id or referral.peer_side != PEER_SENDING:
        raise NotApplicable("not_applicable")  # an id this installation holds otherwise
    referral.urgency = _choice(body["urgency"], Urgency)
    referral.service_type = _choice(body["service_type"], ServiceType)
    referral.legal_basis = basis
    referral.pseudonymised = body["pseudonymised"]
    referral.shared_parts = sorted({_choice(p, SharedPart).value for p in parts})
    referral.purpose = purpose
    referral.purpose_language = purpose_language
    referral.justification = justification
    referral.remote_reference = _label(person.get("reference"), 40)
    referral.remote_sender = _label(body["sender"], 200)
    referral.shared_snapshot = json.dumps(person, sort_keys=True)
    try:
        db.session.flush()
        services.transition(None, referral, "forward", version=referral.version, now=now, peer=peer, remote={})
    except (Conflict, PermissionDenied):
        raise NotApplicable("not_applicable") from None


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(_is_str(v) and len(v) <= 40 for v in value)


def _is_optional_int(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999)


def _is_note(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"text", "language", "at"}
        and _is_str(value["text"])
        and (
            value["language"] is None
            or (isinstance(value["language"], str) and bool(_LANGUAGE.match(value["language"])))
        )
        and isinstance(value["at"], str)
    )


def _is_labels(value: Any) -> bool:
    """An indicator's name in each language the catalogue has; English always."""
    return isinstance(value, dict) and "en" in value and all(_is_str(v) for v in value.values())


def _is_assessment(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and set(value) == {"catalogue", "level", "indicators"}
        and _is_str(value["catalogue"])
        and isinstance(value["indicators"], dict)
        and all(_is_str(k) and _is_labels(v) for k, v in value["indicators"].items())
    )


# Each member of ``person`` and what it must be (codes are checked by reading it back).
PERSON_MEMBERS: dict[str, Callable[[Any], bool]] = {
    "reference": _is_str,
    "presumed_child": lambda v: isinstance(v, bool),
    "risk_level": _is_str,
    "risk_note": _is_str,
    "parts": _is_strings,
    "pseudonymised": lambda v: isinstance(v, bool),
    "gender": lambda v: v is None or _is_str(v),
    "age": _is_optional_int,
    "birth_year": _is_optional_int,
    "languages": _is_strings,
    "citizenships": _is_strings,
    "needs": lambda v: isinstance(v, dict) and all(isinstance(x, bool | str) or x is None for x in v.values()),
    "contact_details": _is_str,
    "document_type": lambda v: v is None or _is_str(v),
    "document_number": _is_str,
    "forms": _is_strings,
    "notes": lambda v: isinstance(v, list) and all(_is_note(n) for n in v),
    "assessment": _is_assessment,
    **dict.fromkeys(IDENTITY_FIELDS, _is_str),
}


def _check_snapshot(person: dict[str, Any]) -> None:
    """What the receiving side will render: each member of the shape it needs (codes and
    times checked by reading it back); what was not shared may be left out, nothing else
    may be added."""
    if not set(person) <= set(PERSON_MEMBERS):
        raise _invalid()
    if not all(PERSON_MEMBERS[name](value) for name, value in person.items()):
        raise _invalid()
    try:
        shared = shared_from(person, released=False)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _invalid() from None
    if shared.pseudonymised and any(getattr(shared, name) for name in IDENTITY_FIELDS):
        raise _invalid()  # a pseudonymised referral carries no name


# What each receipt carries besides ``referral``, ``action`` and ``at``.
RECEIPT_MEMBERS: dict[str, tuple[str, ...]] = {
    "route": ("due_at", "service"),
    "reopen": ("due_at",),
    "decline": ("reason", "note"),
    "complete": ("outcome", "services_delivered"),
    "identity_requested": ("reason",),
    "identity_released": ("identity",),
    **dict.fromkeys(("acknowledge", "accept", "start", "expire", "withdraw", "identity_refused"), ()),
}


@transport.handles("receipt")
def apply_update(peer: FederationPeer, body: dict[str, Any], now: datetime) -> None:
    """A change the peer made to a referral both hold, applied here as the side it is on."""
    from app.referrals import services

    referral_id, action = body.get("referral"), body.get("action")
    if not isinstance(referral_id, str) or not isinstance(action, str):
        raise _invalid()
    if action in RECEIPT_MEMBERS and set(body) != {"referral", "action", "at", *RECEIPT_MEMBERS[action]}:
        raise _invalid()
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.peer_id != peer.id:
        raise NotApplicable("unknown_referral")
    _parsed_time(body.get("at"))
    if action in IDENTITY_ACTIONS:
        _apply_identity(referral, action, body, now)
        return
    allowed = FROM_RECEIVING_SIDE if referral.peer_side == PEER_RECEIVING else FROM_SENDING_SIDE
    if action not in allowed:
        raise NotApplicable("not_applicable")
    remote = _remote_fields(action, body)
    try:
        services.transition(None, referral, action, version=referral.version, now=now, peer=peer, remote=remote)
    except (Conflict, PermissionDenied):
        raise NotApplicable("not_applicable") from None


def _remote_fields(action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The receipt's fields, checked, for ``services.transition`` to set."""
    fields: dict[str, Any] = {}
    if action in ("route", "reopen"):
        fields["due_at"] = _parsed_time(body.get("due_at"))
    if action == "route":
        fields["service"] = _label(body.get("service"), 300)
    elif action == "decline":
        fields["reason"] = _choice(body.get("reason"), DeclineReason)
        fields["note"] = _text(body.get("note"))
    elif action == "complete":
        fields["outcome"] = _choice(body.get("outcome"), Outcome)
        fields["services_delivered"] = _text(body.get("services_delivered"))
    return fields


def _apply_identity(referral: Referral, action: str, body: dict[str, Any], now: datetime) -> None:
    from app.referrals import services

    asking = action == "identity_requested"
    # A request comes from the receiving side, an answer from the sending side.
    if asking != (referral.peer_side == PEER_RECEIVING):
        raise NotApplicable("not_applicable")
    try:
        if asking:
            reason, language = _text(body.get("reason"), required=True)
            services.identity_requested_by_peer(referral, reason or "", language, now=now)
        else:
            released = action == "identity_released"
            details = body.get("identity") if released else None
            if released and not (
                isinstance(details, dict)
                and set(details) == set(IDENTITY_FIELDS)
                and all(isinstance(v, str) and len(v) <= MAX_TEXT for v in details.values())
            ):
                raise _invalid()
            services.identity_decided_by_peer(referral, details, now=now)
    except Conflict:
        raise NotApplicable("not_applicable") from None
