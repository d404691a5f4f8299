"""Federation: cross-border referral packages between separate national installations.

This package holds the envelope (``envelope.py``): the versioned package format, signed
(JWS, Ed25519) by the sending installation and encrypted (JWE, ECDH-ES with X25519 and
A256GCM) to the receiving one, and every check a received package must pass. The trust
list, the outbox and the receipts build on it (issue 5). Format: docs/FEDERATION.md.

The area's permissions are declared here as data.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.permissions import Permission, declare

MANAGE_TRUST_LIST = Permission(
    "federation.manage_trust_list", _l("Keep the trust list of peer installations and their public keys")
)

declare(MANAGE_TRUST_LIST)
