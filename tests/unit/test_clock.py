"""The clock: frozen for tests, system for production; always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import Clock, FrozenClock, SystemClock

START = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
HELSINKI_WINTER = timezone(timedelta(hours=2))


def test_frozen_clock_needs_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2025, 1, 15, 12, 0))


def test_frozen_clock_stands_still() -> None:
    clock = FrozenClock(START)
    assert clock.now() == START
    assert clock.now() == clock.now()


def test_frozen_clock_normalises_to_utc() -> None:
    clock = FrozenClock(datetime(2025, 1, 15, 14, 0, tzinfo=HELSINKI_WINTER))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)


def test_advance_moves_forward() -> None:
    clock = FrozenClock(START)
    returned = clock.advance(timedelta(days=31, minutes=5))
    assert returned == START + timedelta(days=31, minutes=5)
    assert clock.now() == returned
    clock.advance(timedelta(0))
    assert clock.now() == returned


def test_advance_refuses_negative() -> None:
    clock = FrozenClock(START)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == START


def test_set_needs_aware_time() -> None:
    clock = FrozenClock(START)
    with pytest.raises(ValueError):
        clock.set(datetime(2025, 2, 1))
    assert clock.now() == START
    clock.set(datetime(2025, 2, 1, 2, 0, tzinfo=HELSINKI_WINTER))
    assert clock.now() == datetime(2025, 2, 1, 0, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_system_clock_returns_aware_utc() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), FrozenClock(START)]
    assert all(isinstance(c.now(), datetime) and c.now().tzinfo is not None for c in clocks)


def test_file_clock_moves_every_reader_forward(tmp_path) -> None:
    from datetime import timedelta

    from shared.clock import FileClock

    path = tmp_path / "clock"
    first, second = FileClock(path), FileClock(path)
    start = first.now()
    assert abs((start - SystemClock().now()).total_seconds()) < 5
    FileClock.advance_file(path, timedelta(days=31))
    assert second.now() - start >= timedelta(days=31)
    FileClock.advance_file(path, timedelta(days=30))
    assert first.now() - start >= timedelta(days=61)
    with pytest.raises(ValueError):
        FileClock.advance_file(path, timedelta(seconds=-1))


def test_production_refuses_a_clock_file(monkeypatch) -> None:
    from pydantic import ValidationError

    from shared.settings import Settings

    for name, value in {
        "WOMENTO_ENV": "production",
        "WOMENTO_SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql+asyncpg://u@db/w",
        "NATS_URL": "nats://n:4222",
        "WOMENTO_MAIL_BACKEND": "smtp",
        "WOMENTO_PUBLIC_BASE_URL": "https://w.example.org",
        "WOMENTO_CLOCK_FILE": "/tmp/clock",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="WOMENTO_CLOCK_FILE"):
        Settings()
