"""Consents per purpose and version: what she agreed to, and her withdrawing it
(docs/privacy.md, "Consent")."""
