"""`make run`'s launcher from start to Ctrl-C: everything up, demo data in (the demo partner's
credentials too), nothing left."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import nats
import openpyxl
import psutil
import pypdf
import pytest

from services.feedback.demo import DEMO_ORGANISATION, DEMO_PAST_CYCLE
from shared import natsauth
from shared.clock import SystemClock
from shared.commands import GetReport, GetSchedule, ScheduleSummary, send
from shared.db import asyncpg_dsn
from shared.launcher import ROOT
from tests.helpers import csrf_from


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
        assert "past cycle's history added in feedback" in output
        nats_url = re.search(r"NATS:\s+(nats://\S+)", output).group(1)
        credentials = Path(re.search(r"NATS:.*\(credentials: (\S+)\)", output).group(1))
        nats_options = natsauth.client_options(credentials, natsauth.ADMIN)
        _check_past_cycle_report(nats_url, nats_options)
        _check_past_cycle_report_screen(urls["intake"])
        _check_no_mail_about_the_past_cycle(
            re.search(r"PostgreSQL:\s+(postgresql\+asyncpg://\S+)", output).group(1)
        )
        _check_running_cycle_schedule(nats_url, nats_options)
        assert "running cycle's schedule added in scheduling" in output
        portal = re.search(r"participant portal \(a mentee's personal link\): (\S+)", output)
        assert portal, output
        her_page = httpx.get(portal.group(1), timeout=10)
        assert her_page.status_code == 200 and 'name="held_on"' in her_page.text
        _check_demo_partner(output, env)
        names = _command_lines(children)
        assert "nats-server" in names and "postgres" in names
    finally:
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = launcher.wait(90)
    assert code == 0
    assert "Stopped." in (tmp_path / "run.log").read_text()
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _check_demo_partner(output: str, env: dict[str, str]) -> None:
    """The printed credentials file of the demo partner is private, and the example
    subscriber of docs/partners.md receives the demo organisation's feed with it (the
    partner was made before the demo cycles opened). Seeding again keeps the file and the
    one partner; a missing file is issued again."""
    from services.intake.seed import DEMO_PARTNER_NAME

    printed = re.search(r"partner:\s+(\S+)\s+\(the demo partner's credentials", output)
    assert printed, output
    path = Path(printed.group(1))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    command = re.search(r"(\S+ docs/examples/partner_subscriber\.py \S+)\)", output)
    assert command and command.group(1).endswith(str(path)), output

    example = [sys.executable, str(ROOT / "docs/examples/partner_subscriber.py"), str(path)]
    deadline = time.monotonic() + 60
    while not (lines := _run([*example, "--once"], {"PATH": os.environ["PATH"]})):
        assert time.monotonic() < deadline, "the demo partner received nothing"
        time.sleep(1)
    assert all(line.startswith("new ") for line in lines), lines[:5]
    assert any("womento.partner.cycle_opened.v1" in line for line in lines), lines[:5]

    stack_env = {
        **env,
        "NATS_URL": re.search(r"NATS:\s+(\S+)", output).group(1),
        "DATABASE_URL": re.search(r"PostgreSQL:\s+(\S+)", output).group(1),
        "WOMENTO_NATS_CREDENTIALS_DIR": re.search(r"\(credentials: (\S+)\)", output).group(1),
    }
    seed = [sys.executable, "-m", "services.intake.seed", "--partner-file", str(path)]
    assert any("credentials (kept)" in line for line in _run(seed, stack_env))
    path.unlink()
    assert any("credentials (issued)" in line for line in _run(seed, stack_env))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert _run([*example, "--once"], {"PATH": os.environ["PATH"]}) == []  # all acknowledged

    async def partners() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(stack_env["DATABASE_URL"]))
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM intake.partners WHERE organisation_id = $1 AND name = $2",
                DEMO_ORGANISATION,
                DEMO_PARTNER_NAME,
            )
        finally:
            await conn.close()

    assert asyncio.run(partners()) == 1


def _run(argv: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _check_no_mail_about_the_past_cycle(database_url: str) -> None:
    """The past cycle's applicants applied long ago (seeded like imported history): no mail
    to any of them, in the queue or in the dev mailbox, once every open-cycle applicant's
    "application received" has been delivered there (the worker sends the oldest first, and
    the past cycle's would be the oldest); the running cycle's applicants have theirs."""
    from services.intake.seed import DEMO_CYCLE, DEMO_RUNNING_CYCLE

    async def counts() -> asyncpg.Record:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return await conn.fetchrow(
                """
                SELECT
                  (SELECT count(*) FROM intake.applications WHERE cycle_id = $2) AS open_applied,
                  count(DISTINCT q.person_id) FILTER (
                    WHERE a.cycle_id = $2 AND q.template = 'application_received'
                      AND d.id IS NOT NULL) AS open_delivered,
                  (SELECT count(*) FROM intake.applications WHERE cycle_id = $3)
                    AS running_applied,
                  count(DISTINCT q.person_id) FILTER (
                    WHERE a.cycle_id = $3 AND q.template = 'application_received')
                    AS running_queued,
                  count(q.id) FILTER (WHERE a.cycle_id = $1) AS past_queued,
                  count(d.id) FILTER (WHERE a.cycle_id = $1) AS past_delivered
                FROM intake.mail_queue q
                JOIN intake.applications a ON a.person_id = q.person_id
                LEFT JOIN intake.dev_mailbox d ON d.mail_id = q.id
                """,
                DEMO_PAST_CYCLE,
                DEMO_CYCLE,
                DEMO_RUNNING_CYCLE,
            )
        finally:
            await conn.close()

    deadline = time.monotonic() + 120
    while (found := asyncio.run(counts()))["open_delivered"] < found["open_applied"]:
        assert time.monotonic() < deadline, dict(found)
        time.sleep(1)
    assert found["open_applied"] > 0
    assert found["running_queued"] == found["running_applied"] > 0, dict(found)
    assert (found["past_queued"], found["past_delivered"]) == (0, 0), dict(found)


def _check_running_cycle_schedule(nats_url: str, nats_options: dict[str, str]) -> None:
    """The running demo cycle has pairs in scheduling, some of them at risk and some with
    missed months (the clock worker flags them within a few ticks of the import)."""
    from services.intake.seed import DEMO_RUNNING_CYCLE

    async def ask(command: object) -> dict:
        nc = await nats.connect(nats_url, **nats_options)
        try:
            return await send(
                nc,
                command,
                organisation_id=DEMO_ORGANISATION,
                clock=SystemClock(),
                wait_seconds=30,
            )
        finally:
            await nc.close()

    async def summary() -> dict:
        reply = await ask(ScheduleSummary(cycle_ids=(DEMO_RUNNING_CYCLE,)))
        return reply["cycles"].get(str(DEMO_RUNNING_CYCLE), {})

    deadline = time.monotonic() + 60
    while True:
        counts = asyncio.run(summary())
        if counts.get("at_risk") and counts.get("missed"):
            break
        assert time.monotonic() < deadline, counts
        time.sleep(1)
    assert counts["pairs"] >= 8
    assert 0 < counts["at_risk"] < counts["pairs"]
    assert 0 < counts["missed"] < counts["pairs"]
    schedule = asyncio.run(ask(GetSchedule(cycle_id=DEMO_RUNNING_CYCLE)))
    meetings = {g["kind"]: g for g in schedule["group_meetings"]}
    assert set(meetings) == {"kick_off", "midway", "closing"}
    attended = [i["attended"] for i in meetings["kick_off"]["invited"]]
    assert attended.count(True) > attended.count(False) > 0
    assert schedule["trainings"] and schedule["trainings"][0]["invited"]


def _check_past_cycle_report(nats_url: str, nats_options: dict[str, str]) -> None:
    """The demo's completed past cycle has a report: its outcomes in Womento's thirds."""

    async def report() -> dict:
        nc = await nats.connect(nats_url, **nats_options)
        try:
            reply = await send(
                nc,
                GetReport(cycle_ids=[DEMO_PAST_CYCLE], language="en"),
                organisation_id=DEMO_ORGANISATION,
                clock=SystemClock(),
                wait_seconds=30,
            )
        finally:
            await nc.close()
        return reply["report"]

    figures = asyncio.run(report())
    assert figures["cycles"] == 1 and figures["mentees"] >= 30
    assert figures["applicants"]["mentee"] > figures["accepted"]["mentee"] > 0
    assert figures["pairs_formed"] == figures["mentees"] and figures["meetings_held"] > 100
    groups = figures["outcome_groups"]
    with_outcome = sum(groups.values())
    assert with_outcome >= figures["mentees"] - 3
    for group in ("work_in_own_field", "step_forward", "confidence"):
        assert 0.2 <= groups[group] / with_outcome <= 0.45, groups


def _check_past_cycle_report_screen(intake_url: str) -> None:
    """The issue's "done when": the demo coordinator logs in, opens the past cycle's report,
    sees the outcome chart and downloads the spreadsheet and the PDF, which open."""
    from services.intake.seed import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD

    with httpx.Client(base_url=intake_url, timeout=30) as client:
        token = csrf_from(client.get("/login").text)
        login = client.post(
            "/login",
            data={"email": DEMO_ADMIN_EMAIL, "password": DEMO_ADMIN_PASSWORD, "csrf_token": token},
        )
        assert login.status_code == 303, login.text
        report = client.get(f"/coordinator/cycles/{DEMO_PAST_CYCLE}/report", params={"lang": "en"})
        assert report.status_code == 200, report.text
        charts = re.findall(r"<svg\b.*?</svg>", report.text, re.S)
        assert len(charts) >= 2
        assert any("Employed in own field" in chart for chart in charts), charts[0][:500]
        xlsx = client.get(f"/coordinator/cycles/{DEMO_PAST_CYCLE}/report/export/xlsx")
        assert xlsx.status_code == 200
        assert "attachment" in xlsx.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
        assert len(book.sheetnames) >= 2
        pdf = client.get(f"/coordinator/cycles/{DEMO_PAST_CYCLE}/report/export/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        pages = pypdf.PdfReader(io.BytesIO(pdf.content)).pages
        assert pages and any(p.extract_text().strip() for p in pages)
