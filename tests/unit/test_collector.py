"""Pausing the cyclic garbage collector (shared/collector.py)."""

import gc

from shared.collector import collector_paused


def test_the_collector_is_paused_meanwhile_and_restored_as_found() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one leaves it as the outer one found it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # not switched on by someone who found it off
    finally:
        gc.enable()
