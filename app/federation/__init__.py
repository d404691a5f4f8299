"""Federation: cross-border referral packages between separate national installations.

This package holds the envelope (``envelope.py``): the versioned package format, signed
(JWS, Ed25519) by the sending installation and encrypted (JWE, ECDH-ES with X25519 and
A256GCM) to the receiving one, and every check a received package must pass. The trust
list, the outbox and the receipts build on it (issue 5). Format: docs/FEDERATION.md.
"""
