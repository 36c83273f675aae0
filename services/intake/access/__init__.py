"""The access audit (docs/security.md, "Access audit"): every view or download of a
person's data by a coordinator, who, whose, what, why and when, append-only.

- `tables.py`: `access_log` and its codes (created by migration 0010_access_audit, with
  the trigger that refuses UPDATE, DELETE and TRUNCATE).
- `store.py`: `record` (in the transaction of the read it records) and
  `anonymise_subject` (the one change allowed, for erasure).
- `queries.py`: what the admin's screens and a person's export read.
"""
