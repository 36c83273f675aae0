"""Benchmark of feedback: the funder's report, its charts and files, and the research export
(pure, in this process), then survey planning and firing and `GetOutcomes` on a real feedback
process with embedded NATS and PostgreSQL.

`python -m bench.feedback [--no-db] [--repeat 5]`. The pure part builds seeded synthetic rows
(`synthetic`) at four scales and times, median of `--repeat` runs, each step the service runs
for `GetReport` / `ExportReport`: `build_report_by_year`, `charts.all_charts`, the XLSX, the PDF
and the research CSV; then, in a separate run under `tracemalloc`, the peak of Python
allocations of each step. The DB part starts NATS and PostgreSQL with `shared.launcher`
(`durable=True`, as `make run`) and one feedback process with a `FileClock`; the events
are published straight to JetStream, as intake would. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from services.feedback import charts, exports
from services.feedback.report import (
    OUTCOMES,
    ApplicationRow,
    CycleRow,
    InvitationRow,
    MeetingRow,
    MissedRow,
    OutcomeRow,
    PairRow,
    ParticipantRow,
    ReportData,
    ResponseRow,
    build_report_by_year,
)
from services.feedback.report_commands import MAX_FILE_BYTES
from services.feedback.survey_domain import EMPLOYMENT_OPTIONS, SUPPORT_OPTIONS

HELSINKI = ZoneInfo("Europe/Helsinki")
TODAY = date(2031, 6, 1)
"""The report's "today": every synthetic cycle (2021-2030) has ended."""
SCALES: dict[str, tuple[int, int]] = {
    "demo size (1 cycle x 40)": (1, 40),
    "one year (2 cycles x 200)": (2, 200),
    "ten years (20 cycles x 200)": (20, 200),
    "ten years, large (20 cycles x 1,000)": (20, 1000),
}
MENTEE_KINDS = {"baseline": 0.8, "midway": 0.65, "end": 0.6, "follow_up": 0.4}
MENTOR_KINDS = {"midway": 0.7, "end": 0.6}
"""Survey kinds per role (the defaults) and the share who answer each."""
COMMENT = "Tapasimme kahvilassa ja kävimme läpi CV:n. Seuraavaksi harjoittelemme haastattelua."


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- synthetic rows -----------------------------------------------------------------------


def _likert(rng: random.Random, base: int) -> int:
    return max(1, min(5, base + rng.choice((-1, 0, 0, 1))))


def synthetic(
    cycles: int, mentees: int, seed: int = 2026, everyone_answers: bool = False
) -> ReportData:
    """`cycles` cycles, two a year from March 2021 (March-October, September-April), each
    with `mentees` accepted mentees and as many mentors, 60% more mentee and 10% more mentor
    applicants, 5% withdrawn, a pair per staying mentee (8% ended early), the default surveys
    answered at MENTEE_KINDS / MENTOR_KINDS rates with the default questions (free text
    included), an outcome for 85% of mentees, and eight months of meetings per pair (each
    month met with p = 0.85, once or twice; the other months logged as missed).
    `everyone_answers`: every invitation answered (the research CSV's largest rows)."""
    rng = random.Random(seed)
    rows: dict[str, list[Any]] = {
        name: [] for name in ReportData.__dataclass_fields__ if name != "cycles"
    }
    cycle_rows = []
    for c in range(cycles):
        year, autumn = 2021 + c // 2, c % 2 == 1
        starts = date(year, 9, 1) if autumn else date(year, 3, 1)
        ends = date(year + 1, 4, 30) if autumn else date(year, 10, 31)
        cycle = CycleRow(UUID(int=rng.getrandbits(128)), starts, ends)
        cycle_rows.append(cycle)
        cid = cycle.cycle_id
        for role, accepted, extra in (("mentee", mentees, 0.6), ("mentor", mentees, 0.1)):
            people = [UUID(int=rng.getrandbits(128)) for _ in range(round(accepted * (1 + extra)))]
            rows["applications"] += [ApplicationRow(cid, p, role) for p in people]
            for person in people[:accepted]:
                withdrawn = rng.random() < 0.05
                rows["participants"].append(ParticipantRow(cid, person, role, withdrawn))
                if withdrawn:
                    continue
                kinds = MENTEE_KINDS if role == "mentee" else MENTOR_KINDS
                for kind, answer_p in kinds.items():
                    answered = rng.random() < answer_p or everyone_answers
                    rows["invitations"].append(InvitationRow(cid, person, kind, answered))
                    if answered:
                        rows["responses"].append(
                            ResponseRow(cid, person, role, kind, _answers(rng, role, kind))
                        )
                if role == "mentee":
                    _mentee_pair(rng, rows, cycle, person)
    return ReportData(cycles=cycle_rows, **rows)


def _answers(rng: random.Random, role: str, kind: str) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if role == "mentee":
        base = 2 if kind == "baseline" else 3
        for key in ("confidence_job_search", "finnish_at_work", "professional_network"):
            answers[key] = _likert(rng, base)
        answers["employment_status"] = rng.choice(EMPLOYMENT_OPTIONS)
    if kind in ("midway", "end"):
        answers["satisfaction_pair"] = _likert(rng, 4)
        answers["support_received"] = rng.sample(SUPPORT_OPTIONS, rng.randint(1, 3))
    if rng.random() < 0.4:
        answers["comments"] = COMMENT
    return answers


def _mentee_pair(
    rng: random.Random, rows: dict[str, list[Any]], cycle: CycleRow, mentee: UUID
) -> None:
    pair_id = UUID(int=rng.getrandbits(128))
    months = [_month(cycle.starts_on, i) for i in range(8)]
    ended = None
    if rng.random() < 0.08:
        ended = months[rng.randint(1, 6)] + timedelta(days=10)
        months = [m for m in months if m <= ended]
    rows["pairs"].append(PairRow(pair_id, cycle.cycle_id, mentee, ended))
    for month in months:
        if rng.random() < 0.85:
            for _ in range(rng.randint(1, 2)):
                rows["meetings"].append(MeetingRow(pair_id, month + timedelta(rng.randint(0, 27))))
        else:
            rows["missed"].append(MissedRow(pair_id, month))
    outcome = rng.choice(OUTCOMES) if rng.random() < 0.85 else None
    rows["outcomes"].append(OutcomeRow(cycle.cycle_id, mentee, outcome))


def _month(start: date, plus: int) -> date:
    month = start.month - 1 + plus
    return date(start.year + month // 12, month % 12 + 1, 1)


# --- pure measurements --------------------------------------------------------------------


@dataclass
class Step:
    name: str
    run: Callable[[], Any]
    seconds: list[float]
    cpu: list[float] = field(default_factory=list)
    peak_mib: float = 0.0
    size: int | None = None


def pure(
    scales: dict[str, tuple[int, int]], repeat: int, cold: dict[str, float]
) -> list[dict[str, Any]]:
    """Every step at every scale; `cold` gets each step's first call in this process."""
    results = []
    for label, (n_cycles, n_mentees) in scales.items():
        data = synthetic(n_cycles, n_mentees)
        report = build_report_by_year(data, today=TODAY)
        mentees_reported = report.mentees
        steps = [
            Step("build_report_by_year", partial(build_report_by_year, data, today=TODAY), []),
            Step("charts (all_charts, fi)", partial(charts.all_charts, report, "fi"), []),
            Step(
                "XLSX (report_xlsx, fi)",
                partial(exports.report_xlsx, report, "fi", "Bench", TODAY),
                [],
            ),
            Step(
                "PDF (report_pdf, fi)",
                partial(exports.report_pdf, report, "fi", "Bench", TODAY),
                [],
            ),
            Step("research CSV (research_csv)", partial(exports.research_csv, data, TODAY), []),
        ]
        for step in steps:
            started = time.perf_counter()
            step.run()  # uncounted warm-up (first at the first scale: imports, fonts, caches)
            cold.setdefault(step.name, time.perf_counter() - started)
            for _ in range(repeat):
                started, cpu = time.perf_counter(), time.process_time()
                out = step.run()
                step.seconds.append(time.perf_counter() - started)
                step.cpu.append(time.process_time() - cpu)
            if isinstance(out, bytes):
                step.size = len(out)
        tracemalloc.start()
        for step in steps:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            out = step.run()
            step.peak_mib = (tracemalloc.get_traced_memory()[1] - base) / 2**20
            del out
        tracemalloc.stop()
        reply = {
            "report": report.to_dict(),
            "charts": charts.all_charts(report, "fi", prefix="report-"),
        }
        csv_bytes = next(s.size for s in steps if s.name.startswith("research")) or 0
        counts = {name: len(getattr(data, name)) for name in ReportData.__dataclass_fields__}
        result = {
            "scale": label,
            "mentees": mentees_reported,
            "counts": counts,
            "steps": steps,
            "get_report_reply_bytes": len(json.dumps(reply, default=str).encode()),
            "csv_bytes_per_mentee": csv_bytes / mentees_reported,
        }
        results.append(result)
        log(
            f"{label}: {mentees_reported} mentees; rows "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        for step in steps:
            log(
                f"  {step.name}: median {statistics.median(step.seconds):.4f} s "
                f"(range {min(step.seconds):.4f}-{max(step.seconds):.4f}), "
                f"CPU median {statistics.median(step.cpu):.4f} s, peak {step.peak_mib:.1f} MiB"
                + (f", {step.size:,} bytes" if step.size else "")
            )
    return results


def pure_tables(results: list[dict[str, Any]], repeat: int) -> str:
    lines = [
        "| Scale | Mentees | Step | Time (median) | Range | CPU time (median) | Peak Python memory"
        " | Size |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for step in r["steps"]:
            size = f"{step.size:,} B" if step.size is not None else ""
            if step.size is not None and step.size > MAX_FILE_BYTES:
                size += " (too_large)"
            lines.append(
                f"| {r['scale']} | {r['mentees']:,} | {step.name} "
                f"| {_t(statistics.median(step.seconds))} "
                f"| {_t(min(step.seconds))}-{_t(max(step.seconds))} "
                f"| {_t(statistics.median(step.cpu))} "
                f"| {step.peak_mib:.1f} MiB | {size} |"
            )
    rows = [
        "",
        "| Scale | Rows (cycles / applications / participants / pairs / invitations / "
        "responses / outcomes / meetings / missed) | GetReport reply | Research CSV per mentee |",
        "| --- | --- | ---: | ---: |",
    ]
    for r in results:
        c = r["counts"]
        rows.append(
            f"| {r['scale']} | {' / '.join(f'{v:,}' for v in c.values())} "
            f"| {r['get_report_reply_bytes']:,} B | {r['csv_bytes_per_mentee']:.0f} B |"
        )
    per_mentee = max(r["csv_bytes_per_mentee"] for r in results)
    full = synthetic(2, 200, everyone_answers=True)
    full_csv = exports.research_csv(full, TODAY)
    full_per_mentee = len(full_csv) / build_report_by_year(full, today=TODAY).mentees
    rows.append("")
    rows.append(
        f"Research CSV at {per_mentee:.0f} bytes per mentee: the {MAX_FILE_BYTES:,}-byte limit "
        f"is reached near {MAX_FILE_BYTES / per_mentee:,.0f} mentees in one export. If every "
        f"mentee answered every survey (one year, 2 x 200): {full_per_mentee:.0f} bytes per "
        f"mentee, the limit near {MAX_FILE_BYTES / full_per_mentee:,.0f} mentees. "
        f"{repeat} timed runs per step after one uncounted warm-up run."
    )
    return "\n".join(lines + rows)


def _t(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


# --- DB-backed measurements ---------------------------------------------------------------

START = datetime(2031, 2, 1, 12, 0, tzinfo=HELSINKI)
"""The FileClock's time when the scenarios start: applications of a cycle starting 1.3.2031."""
STARTS_ON, ENDS_ON = date(2031, 3, 1), date(2031, 10, 31)
BASELINE_DUE = datetime(2031, 3, 1, 9, 0, tzinfo=HELSINKI)
POLL = 0.020


class Db:
    """NATS, PostgreSQL and feedback (the servers and helpers of bench.backbone)."""

    def __init__(self, workdir: Path, tick: float) -> None:
        from bench.backbone import Bench

        self.bench = Bench(workdir, events=0)
        self.workdir = workdir
        self.clock_file = workdir / "clock"
        self.tick = tick
        self.results: list[tuple[str, str, str]] = []

    def add(self, scenario: str, metric: str, value: str) -> None:
        self.results.append((scenario, metric, value))
        log(f"{scenario}: {metric} = {value}")

    def cpu_used(self, before: dict[str, float], items: int, what: str) -> str:
        """CPU seconds each process used since `before` (a `cpu_snapshot`), and per item:
        unlike the elapsed times, hardly changed by other work on the machine."""
        after = self.bench.cpu_snapshot()
        return ", ".join(
            f"{name} {after[name] - before[name]:.2f} s"
            f" ({(after[name] - before[name]) / items * 1000:.1f} ms per {what})"
            for name in before
        )

    def set_clock(self, moment: datetime) -> None:
        from shared.clock import FileClock

        if not self.clock_file.exists():
            self.clock_file.write_text(repr((moment - datetime.now(UTC)).total_seconds()))
        else:
            FileClock.advance_file(self.clock_file, moment - FileClock(self.clock_file).now())

    async def fresh_feedback(self, name: str) -> str:
        """Empty streams, a fresh database and one feedback process; returns the asyncpg DSN."""
        from bench.backbone import SERVICE_ENV
        from shared.launcher import ServiceProcess

        self.bench.stop_services()
        await self.bench.empty_streams()
        url, dsn = self.bench.new_database(name)
        env = {
            **SERVICE_ENV,
            "NATS_URL": self.bench.nats.url,
            "WOMENTO_NATS_CREDENTIALS_DIR": str(self.bench.nats.credentials_dir),
            "DATABASE_URL": url,
            "WOMENTO_SERVICE": "feedback",
            "WOMENTO_CLOCK_FILE": str(self.clock_file),
            "WOMENTO_FEEDBACK_TICK_SECONDS": str(self.tick),
        }
        service = ServiceProcess("feedback", env, self.workdir / "logs" / name)
        service.start(wait=False)
        self.bench.running.append(service)
        await asyncio.to_thread(service.wait_ready, 120)
        return dsn

    async def run(self, acceptances: int, outcome_mentees: int, queries: int) -> None:
        import asyncpg
        import nats

        from shared.clock import FileClock

        self.set_clock(START)
        clock = FileClock(self.clock_file)
        for scenario in ("surveys", "outcomes"):
            dsn = await self.fresh_feedback(f"bench_{scenario}")
            nc = await nats.connect(self.bench.nats.url, **self.bench.nats.connect_options())
            conn = await asyncpg.connect(dsn)
            try:
                if scenario == "surveys":
                    await self.surveys(nc, conn, clock, acceptances)
                else:
                    await self.outcomes(nc, conn, clock, outcome_mentees, queries)
            finally:
                await conn.close()
                await nc.close()

    async def _open_and_accept(
        self, nc: Any, conn: Any, clock: Any, org: UUID, n: int, scenario: str
    ) -> UUID:
        """A cycle opened, then `n` mentees accepted; times from the first acceptance
        published until every one has her invitations and interviews."""
        from shared.events import ApplicantAccepted, CycleOpened, MatchingProfile, Role

        js = nc.jetstream()
        cycle = uuid4()
        opened = CycleOpened(
            cycle_id=cycle,
            programme_id=uuid4(),
            applications_open=date(2031, 1, 1),
            applications_close=date(2031, 2, 15),
            starts_on=STARTS_ON,
            ends_on=ENDS_ON,
        )
        await _publish(js, opened, org, clock)
        await _wait(conn, "SELECT count(*) FROM feedback.surveys WHERE cycle_id = $1", 6, cycle)
        profile = MatchingProfile(role=Role.MENTEE, isco_code="2142", education_level=7)
        events = [
            ApplicantAccepted(
                application_id=uuid4(), person_id=uuid4(), cycle_id=cycle, profile=profile
            )
            for _ in range(n)
        ]
        cpu = self.bench.cpu_snapshot()
        started = time.perf_counter()
        for i in range(0, n, 200):
            await asyncio.gather(*(_publish(js, e, org, clock) for e in events[i : i + 200]))
        published = time.perf_counter() - started
        query = "SELECT count(*) FROM feedback.{} WHERE cycle_id = $1"
        await _wait(conn, query.format("interviews"), 3 * (n // 2), cycle)
        half = time.perf_counter() - started
        await _wait(conn, query.format("invitations"), 4 * n, cycle)
        invitations = time.perf_counter() - started
        await _wait(conn, query.format("interviews"), 3 * n, cycle)
        seconds = time.perf_counter() - started
        self.add(scenario, f"{n} acceptances published to JetStream", f"{published:.2f} s")
        self.add(
            scenario,
            f"{n} acceptances: first publish to all {4 * n:,} invitations planned",
            f"{invitations:.2f} s",
        )
        self.add(
            scenario,
            f"... and all {3 * n:,} interviews planned (the consumer is done)",
            f"{seconds:.2f} s ({seconds / n * 1000:.1f} ms per acceptance)",
        )
        self.add(scenario, "CPU used while consuming them", self.cpu_used(cpu, n, "acceptance"))
        rest = n - n // 2
        self.add(
            scenario,
            "time per acceptance, first half / second half of them",
            f"{half / (n // 2) * 1000:.1f} ms / {(seconds - half) / rest * 1000:.1f} ms",
        )
        return cycle

    async def surveys(self, nc: Any, conn: Any, clock: Any, n: int) -> None:
        from shared.subjects import stream_name

        name = "A. Surveys"
        org = uuid4()
        cycle = await self._open_and_accept(nc, conn, clock, org, n, name)
        js = nc.jetstream()
        stream = stream_name("feedback")
        before = await _stream_count(js, stream)
        cpu = self.bench.cpu_snapshot()
        self.set_clock(BASELINE_DUE)
        started = time.perf_counter()
        await _wait(
            conn,
            "SELECT count(*) FROM feedback.invitations WHERE cycle_id = $1 AND kind = 'baseline'"
            " AND invited_at IS NOT NULL",
            n,
            cycle,
        )
        fired = time.perf_counter() - started
        await _until(lambda: _stream_count(js, stream), before + n, "feedback's stream")
        in_stream = time.perf_counter() - started
        self.add(
            name,
            f"clock moved to the baseline's morning: all {n} invitations fired (committed)",
            f"{fired:.2f} s ({fired / n * 1000:.1f} ms per invitation, tick {self.tick} s)",
        )
        self.add(name, f"... and all {n} SurveyInvitationDue in the stream", f"{in_stream:.2f} s")
        self.add(name, "CPU used while firing them", self.cpu_used(cpu, n, "invitation"))

    async def outcomes(self, nc: Any, conn: Any, clock: Any, n: int, queries: int) -> None:
        from shared.commands import CommandEnvelope, GetOutcomes, Reply

        name = "B. GetOutcomes"
        org = uuid4()
        cycle = await self._open_and_accept(nc, conn, clock, org, n, name)
        times, size = [], 0
        cpu: dict[str, float] = {}
        for number in range(queries):
            if number == 1:
                cpu = self.bench.cpu_snapshot()
            command = GetOutcomes(cycle_id=cycle)
            command_id = uuid4()
            envelope = CommandEnvelope(
                id=command_id,
                type=command.command_name(),
                time=clock.now(),
                organisationid=org,
                correlationid=command_id,
                data=command.model_dump(mode="json"),
            )
            started = time.perf_counter()
            msg = await nc.request(
                command.subject(), envelope.model_dump_json().encode(), timeout=60
            )
            times.append(time.perf_counter() - started)
            reply = Reply.model_validate_json(msg.data)
            if not reply.ok or reply.data is None or len(reply.data["mentees"]) != n:
                raise RuntimeError(f"GetOutcomes answered {msg.data[:300]!r}")
            size = len(msg.data)
        self.add(name, f"{n} mentees: first query", f"{times[0]:.3f} s")
        rest = times[1:] or times
        self.add(
            name,
            f"{n} mentees: next {len(rest)} queries, median (range)",
            f"{statistics.median(rest):.3f} s ({min(rest):.3f}-{max(rest):.3f})",
        )
        if cpu:
            self.add(name, "CPU used by those queries", self.cpu_used(cpu, len(rest), "query"))
        self.add(
            name,
            f"{n} mentees: reply size",
            f"{size:,} B ({size / n:.0f} B per mentee; NATS default max 1 MiB)",
        )

    def markdown(self) -> str:
        lines = ["| Scenario | Metric | Result |", "| --- | --- | ---: |"]
        lines += [f"| {s} | {m} | {v} |" for s, m, v in self.results]
        return "\n".join(lines)


async def _publish(js: Any, event: Any, org: UUID, clock: Any) -> None:
    from shared.envelope import Envelope

    envelope = Envelope.wrap(event, organisation_id=org, clock=clock)
    await js.publish(
        envelope.nats_subject,
        envelope.to_bytes(),
        headers={"Nats-Msg-Id": str(envelope.id)},
        timeout=30,
    )


async def _stream_count(js: Any, stream: str) -> int:
    try:
        return int((await js.stream_info(stream)).state.messages)
    except Exception:
        return 0


async def _wait(conn: Any, query: str, target: int, *args: Any) -> None:
    await _until(lambda: conn.fetchval(query, *args), target, query)


async def _until(current: Callable[[], Any], target: int, what: str, limit: float = 600) -> None:
    """Poll `current()` every POLL seconds until it reaches `target`."""
    deadline = time.perf_counter() + limit
    while True:
        value = int(await current())
        if value >= target:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: {value} of {target} after {limit:.0f} s")
        await asyncio.sleep(POLL)


# --- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per pure step")
    parser.add_argument("--quick", action="store_true", help="the two smaller scales only")
    parser.add_argument("--no-db", action="store_true", help="the pure part only")
    parser.add_argument("--acceptances", type=int, default=400, help="survey scenario size")
    parser.add_argument("--outcome-mentees", type=int, default=1000, help="GetOutcomes cycle")
    parser.add_argument("--queries", type=int, default=6, help="GetOutcomes calls (first+rest)")
    parser.add_argument("--tick", type=float, default=0.3, help="feedback's clock-worker tick")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    scales = dict(list(SCALES.items())[:2]) if args.quick else SCALES
    cold: dict[str, float] = {}
    results = pure(scales, args.repeat, cold)
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db: Db | None = None
    facts: list[tuple[str, str]] = []
    if not args.no_db:
        from bench.backbone import _sigterm_as_interrupt, machine_facts

        workdir = Path(tempfile.mkdtemp(prefix="womento-bench-feedback-"))
        workdir.chmod(0o755)
        db = Db(workdir, args.tick)
        ok = False
        with _sigterm_as_interrupt():
            try:
                db.bench.start_servers()
                facts = machine_facts(db.bench.pg)
                asyncio.run(db.run(args.acceptances, args.outcome_mentees, args.queries))
                ok = True
            except KeyboardInterrupt:
                log("interrupted")
                return 130
            finally:
                log("stopping feedback, PostgreSQL and NATS")
                db.bench.stop_all()
                if ok and not args.keep:
                    shutil.rmtree(workdir, ignore_errors=True)
                else:
                    log(f"logs kept in {workdir}")
    print()
    print("## Feedback: report, charts and files (pure, one process)")
    print()
    print(pure_tables(results, args.repeat))
    first = next(iter(scales))
    print()
    print(
        f"First call of each step in a fresh process (at {first}, not counted above): "
        + ", ".join(f"{name} {_t(seconds)}" for name, seconds in cold.items())
        + f". Peak RSS of the benchmark process after the pure part: {max_rss:.0f} MiB."
    )
    if db is not None:
        print()
        print("## Feedback on NATS and PostgreSQL (one feedback process)")
        print()
        print(db.markdown())
    print()
    from bench.backbone import print_machine

    print_machine(
        facts or [("nproc", str(os.cpu_count())), ("Python", platform.python_version())],
        load_before,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
