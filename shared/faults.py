"""Crash points: named places where a process can be made to die, for fault tests.

`crashpoint("outbox.after_publish")` sends SIGKILL to the own process when that name is
in `Settings.crashpoints` (env `WOMENTO_CRASHPOINTS='["outbox.after_publish"]'`). It is a
real, uncatchable kill at an exact place, which is what the fault tests need to prove
that nothing is lost and nothing happens twice. Production settings refuse crash points.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

KNOWN = frozenset({"outbox.after_publish", "inbox.before_commit", "inbox.after_commit"})
_armed: frozenset[str] = frozenset()


def arm(names: frozenset[str]) -> None:
    unknown = names - KNOWN
    if unknown:
        raise ValueError(f"unknown crash points: {', '.join(sorted(unknown))}")
    global _armed
    _armed = names


def crashpoint(name: str) -> None:
    if name in _armed:
        log.warning("crash point reached, killing process", extra={"crashpoint": name})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
