"""Pausing Python's cyclic garbage collector around a large, cycle-free computation.

Matching's whole-cohort optimum and feedback's reports allocate many small objects that hold
no reference cycles while large inputs stay alive; every full collection their allocations
trigger rescans all of those inputs (about half the CPU time: bench/README.md). Reference
counting still frees what they drop. The pause is process-wide while it lasts.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off meanwhile; nested use leaves it as the outermost caller found it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
