"""`make run`'s launcher from start to Ctrl-C: everything up, demo data in, nothing left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from shared.launcher import ROOT


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _command_lines(processes: list[psutil.Process]) -> str:
    """The command lines of those still alive (short-lived helpers like psql may be gone)."""
    lines = []
    for process in processes:
        try:
            lines.append(" ".join(process.cmdline()))
        except psutil.Error:
            continue
    return " ".join(lines)


@pytest.mark.kills
def test_launcher_starts_everything_seeds_and_stops_cleanly(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env["WOMENTO_STATE_DIR"] = str(tmp_path / "state")
    log = (tmp_path / "run.log").open("w+")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "shared.launcher"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 180
        while "Press Ctrl-C to stop." not in (output := (tmp_path / "run.log").read_text()):
            assert launcher.poll() is None, output
            assert time.monotonic() < deadline, output
            time.sleep(0.2)
        children = _descendants(launcher.pid)
        urls = dict(re.findall(r"(intake|matching|scheduling|feedback) (http://[\d.:]+)", output))
        assert set(urls) == {"intake", "matching", "scheduling", "feedback"}
        assert re.search(r"NATS:\s+nats://127\.0\.0\.1:\d+", output)
        assert re.search(r"PostgreSQL:\s+postgresql\+asyncpg://\S+@127\.0\.0\.1:\d+/", output)
        for url in urls.values():
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        assert "demo data created" in output
        names = _command_lines(children)
        assert "nats-server" in names and "postgres" in names
    finally:
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = launcher.wait(90)
    assert code == 0
    assert "Stopped." in (tmp_path / "run.log").read_text()
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
