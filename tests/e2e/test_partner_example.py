"""The partner example of docs/partners.md (`docs/examples/partner_subscriber.py`), run as a
partner would run it, with a credentials file made by intake's partners CLI: it receives the
organisation's cycle_opened once, gets nothing again on the next run (acknowledged), and a
replay from a date brings the event again, recognised by its id as already processed; a
fresh database replaying gets it as new. With TLS required it connects through the file's
CA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from shared.launcher import ROOT
from tests.helpers import create_organisation, open_cycle, partners_cli

EXAMPLE = ROOT / "docs" / "examples" / "partner_subscriber.py"
CYCLE_OPENED = "womento.partner.cycle_opened.v1"


def partners(stack: Any, *args: str) -> str:
    done = partners_cli(stack, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def credentials_file(stack: Any, organisation_id: UUID, path: Path) -> Path:
    """A partner of the organisation and its credentials file, by the CLI."""
    created = partners(stack, "create", "--organisation", str(organisation_id), "--name", "P")
    partner_id = json.loads(created)["partner_id"]
    partners(
        stack, "issue", "--organisation", str(organisation_id), "--partner", partner_id,
        "--out", str(path),
    )  # fmt: skip
    return path


def uses_tls(credentials: Path) -> bool:
    document = json.loads(credentials.read_text())
    return (
        document["nats_url"].startswith("tls://") and "BEGIN CERTIFICATE" in document["tls_ca_pem"]
    )


def example(credentials: Path, *args: str) -> list[str]:
    """One `--once` run of the example in a clean environment (no project imports); its
    printed lines."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(credentials), "--once", *args],
        env={"PATH": os.environ["PATH"]},
        cwd=credentials.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def until_received(credentials: Path, timeout: float = 60) -> list[str]:
    """Run the example until it has printed something (the feed is a few hops away)."""
    deadline = time.monotonic() + timeout
    while not (lines := example(credentials)):
        assert time.monotonic() < deadline, "the example received nothing"
        time.sleep(0.5)
    return lines


async def test_example_receives_once_acks_and_replays_from_a_date(stack, tmp_path) -> None:
    stack.start("intake")
    org = await create_organisation(stack.database_url)
    credentials = credentials_file(stack, org, tmp_path / "partner.json")
    _, cycle = await open_cycle(stack.database_url, org)

    [line] = until_received(credentials)
    new, event_id, kind, _time, data = line.split(" ", 4)
    assert (new, kind) == ("new", CYCLE_OPENED)
    assert json.loads(data)["cycle_id"] == str(cycle)
    assert (tmp_path / "partner.sqlite").exists()

    assert example(credentials) == []  # acknowledged: not delivered again

    today = datetime.now(UTC).date()
    assert example(credentials, "--since", today.isoformat()) == [f"seen {event_id} {kind}"]
    assert example(credentials) == []  # the replayed consumer keeps its place too

    fresh = ["--database", str(tmp_path / "fresh.sqlite")]
    assert example(credentials, "--since", (today - timedelta(days=3)).isoformat(), *fresh) == [
        line
    ]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert example(credentials, "--since", tomorrow, *fresh) == []


@pytest.mark.nats_tls
async def test_example_connects_with_tls_through_the_files_ca(stack, tmp_path) -> None:
    stack.start("intake")
    org = await create_organisation(stack.database_url)
    credentials = credentials_file(stack, org, tmp_path / "partner.json")
    assert uses_tls(credentials)
    await open_cycle(stack.database_url, org)
    [line] = until_received(credentials)
    assert line.startswith("new ") and CYCLE_OPENED in line
