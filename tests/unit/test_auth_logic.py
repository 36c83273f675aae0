"""Pure parts of logins and sessions: lockout windows, session expiry, digests."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.auth.service import (
    Coordinator,
    Throttled,
    email_digest,
    lockout_remaining,
    normalise_email,
    session_expired,
    token_digest,
)

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def minutes_ago(*values: float) -> list[datetime]:
    return [NOW - timedelta(minutes=v) for v in values]


def test_fewer_failures_than_the_limit_do_not_lock() -> None:
    failures = minutes_ago(1, 2, 3, 4)
    assert lockout_remaining(failures, now=NOW, max_failures=5, window=WINDOW) is None


def test_failures_older_than_the_window_do_not_count() -> None:
    failures = minutes_ago(1, 2, 3, 4, 15, 20, 60)
    assert lockout_remaining(failures, now=NOW, max_failures=5, window=WINDOW) is None


def test_the_lock_lasts_until_the_limiting_failure_leaves_the_window() -> None:
    failures = minutes_ago(1, 2, 3, 4, 10, 14)  # the 5th most recent was 10 minutes ago
    remaining = lockout_remaining(failures, now=NOW, max_failures=5, window=WINDOW)
    assert remaining == timedelta(minutes=5)
    later = NOW + remaining
    assert lockout_remaining(failures, now=later, max_failures=5, window=WINDOW) is None


def test_throttled_rounds_waiting_time_up() -> None:
    throttled = Throttled(retry_after=timedelta(minutes=4, seconds=1))
    assert throttled.retry_after_seconds == 241
    assert throttled.retry_after_minutes == 5
    assert Throttled(retry_after=timedelta(milliseconds=10)).retry_after_seconds == 1


@pytest.mark.parametrize(
    ("idle_for", "age_left", "expired"),
    [
        (timedelta(minutes=29), timedelta(hours=1), False),
        (timedelta(minutes=31), timedelta(hours=1), True),
        (timedelta(seconds=1), timedelta(0), True),
        (timedelta(seconds=1), timedelta(seconds=-1), True),
    ],
)
def test_sessions_expire_when_idle_or_past_their_absolute_end(idle_for, age_left, expired) -> None:
    assert (
        session_expired(
            last_seen_at=NOW - idle_for,
            expires_at=NOW + age_left,
            now=NOW,
            idle=timedelta(minutes=30),
        )
        is expired
    )


def test_only_the_tokens_hash_is_stored_and_emails_are_keyed() -> None:
    assert token_digest("abc") == hashlib.sha256(b"abc").digest()
    assert email_digest("k1", " Maria@Example.org ") == email_digest("k1", "maria@example.org")
    assert email_digest("k1", "maria@example.org") != email_digest("k2", "maria@example.org")
    assert normalise_email("  Maria@Example.ORG ") == "maria@example.org"


def test_viewers_cannot_edit() -> None:
    def who(role: str) -> Coordinator:
        return Coordinator(
            id=uuid.uuid4(),
            organisation_id=uuid.uuid4(),
            email="m@example.org",
            display_name="M",
            role=role,
            language="fi",
        )

    assert who("admin").can_edit and who("coordinator").can_edit
    assert not who("viewer").can_edit
