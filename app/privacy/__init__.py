"""Privacy: consent as its own record (later: retention, subject access, erasure)."""
