"""Append-only, hash-chained audit trail. Supervisor views and their permissions come
with the supervision issue; this package holds the core every area writes to."""
