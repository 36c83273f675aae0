"""The one clock. Nothing calls `datetime.now()` directly, so tests can move time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; for tests and simulations of a whole cycle."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs timezone-aware times")
        self._now = moment.astimezone(UTC)


class FileClock:
    """System time plus an offset read from a file, shared by every process that reads it.

    For simulations and end-to-end tests on real processes: a test moves the whole system
    forward by writing a larger offset (seconds) into the file (`FileClock.advance_file`).
    Refused in production (`WOMENTO_CLOCK_FILE`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._read_offset()

    def _read_offset(self) -> timedelta:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return timedelta(0)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            text = self.path.read_text().strip()
            self._offset = timedelta(seconds=float(text or 0))
            self._stamp = stamp
        return self._offset

    @staticmethod
    def advance_file(path: Path, delta: timedelta) -> timedelta:
        """Move every FileClock reading `path` forward by `delta`; returns the new offset."""
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        current = float(path.read_text().strip() or 0) if path.exists() else 0.0
        offset = current + delta.total_seconds()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(repr(offset))
        os.replace(tmp, path)
        return timedelta(seconds=offset)
