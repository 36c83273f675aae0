"""Coordinators' passwords: a length policy and argon2id hashes.

Hashing uses argon2-cffi's `PasswordHasher` with its defaults (argon2id, RFC 9106's
low-memory profile: time_cost 3, memory 64 MiB, parallelism 4, 16-byte salt, 32-byte
hash). When the defaults change in a later argon2-cffi, `needs_rehash` says so and the
login rehashes the password it has just verified.

These functions are CPU-bound (tens of milliseconds by design); async callers run them
in a thread (`asyncio.to_thread`) so the event loop keeps serving other requests.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Upper bound so that nobody makes the server hash megabytes; far above any passphrase."""

HASHER = PasswordHasher()


class WeakPassword(ValueError):
    """The password does not meet the policy; `code` is the key of the reason's text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise `WeakPassword` unless `password` is acceptable.

    The policy follows NIST SP 800-63B: length matters, composition rules do not. At least
    `MIN_LENGTH` characters (spaces count, so passphrases work), at most `MAX_LENGTH`, not
    only whitespace, and not the account's own e-mail address.
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword("auth.password.too_short", f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword("auth.password.too_long", f"at most {MAX_LENGTH} characters")
    if not password.strip():
        raise WeakPassword("auth.password.blank", "not only spaces")
    if email and password.strip().casefold() == email.strip().casefold():
        raise WeakPassword("auth.password.is_email", "not the e-mail address")


def hash_password(password: str) -> str:
    """The argon2id PHC string (`$argon2id$v=19$m=65536,t=3,p=4$...`) of `password`."""
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False on a mismatch or an unreadable stored hash."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@cache
def dummy_hash() -> str:
    """A hash to verify against when the e-mail is unknown, so that takes as long as a miss."""
    return HASHER.hash("womento-dummy-password-that-matches-nothing")
