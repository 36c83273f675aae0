"""Benchmark of the event backbone: outbox relay, consumer, API-to-effect latency, memory.

`python -m bench.backbone [--events N | --quick]` starts its own NATS (JetStream) and
PostgreSQL with `shared.launcher` in a temporary folder, PostgreSQL with
`durable=True` (fsync and synchronous commit on, as `make run` has it), and the services
as real processes with their default settings. Each scenario gets a fresh database and
empty streams, and stops its services before the next one starts. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import nats
import psutil
from nats.js import JetStreamContext

from shared.clock import SystemClock
from shared.db import asyncpg_dsn
from shared.envelope import Envelope
from shared.events import SERVICES, ApplicationReceived, Role
from shared.launcher import NatsServer, PostgresServer, ServiceProcess, find_nats_server
from shared.subjects import stream_name
from tests.helpers import application_payload, open_cycle

INTAKE_STREAM = stream_name("intake")
SUBJECT = ApplicationReceived.subject()
PUBLISH_BATCH = 500
STREAM_POLL = 0.020
EFFECT_POLL = 0.005
LATENCY_REQUESTS = 200
LATENCY_WARMUP = 5
SERVICE_ENV = {"WOMENTO_ENV": "test", "WOMENTO_LOG_LEVEL": "WARNING"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Results:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, scenario: str, metric: str, value: str) -> None:
        self.rows.append((scenario, metric, value))
        log(f"{scenario}: {metric} = {value}")

    def markdown(self) -> str:
        lines = ["| Scenario | Metric | Result |", "| --- | --- | ---: |"]
        lines += [f"| {s} | {m} | {v} |" for s, m, v in self.rows]
        return "\n".join(lines)


class Bench:
    """The servers, the service processes started so far, and the scenarios."""

    def __init__(self, workdir: Path, events: int, nats_server: NatsServer | None = None) -> None:
        self.workdir = workdir
        self.events = events
        self.nats = nats_server or NatsServer(workdir / "nats")
        self.pg = PostgresServer(workdir / "postgres", durable=True)
        self.running: list[ServiceProcess] = []
        self.results = Results()

    # --- servers and services ---------------------------------------------------------

    def start_servers(self) -> None:
        log(f"starting NATS and PostgreSQL (durable=True) in {self.workdir}")
        self.nats.start()
        self.pg.start()

    def new_database(self, name: str) -> tuple[str, str]:
        """A fresh database: (SQLAlchemy URL for the services, asyncpg DSN)."""
        self.pg.psql(f'DROP DATABASE IF EXISTS "{name}"')
        self.pg.create_database(name)
        url = self.pg.url(name)
        return url, asyncpg_dsn(url)

    async def start_services(self, names: Sequence[str], database_url: str, label: str) -> None:
        env = {**SERVICE_ENV, **self.nats.service_env(), "DATABASE_URL": database_url}
        log_dir = self.workdir / "logs" / label
        started = []
        for name in names:
            service = ServiceProcess(name, {**env, "WOMENTO_SERVICE": name}, log_dir)
            service.start(wait=False)
            self.running.append(service)
            started.append(service)
        for service in started:
            await asyncio.to_thread(service.wait_ready, 120)
        log(f"services ready: {', '.join(names)}")

    def stop_services(self) -> None:
        """SIGTERM all first (they drain in parallel), then wait for each; never raises."""
        for service in self.running:
            service.proc.send(signal.SIGTERM)
        for service in self.running:
            with contextlib.suppress(Exception):
                service.stop(30)
        self.running.clear()

    def stop_all(self) -> None:
        self.stop_services()
        for server in (self.pg, self.nats):
            with contextlib.suppress(Exception):
                server.stop()

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each running service, PostgreSQL and NATS."""
        procs = {s.name: s.proc.process for s in self.running}
        procs |= {"PostgreSQL": self.pg.proc.process, "NATS": self.nats.proc.process}
        return {name: _cpu_seconds(p.pid) for name, p in procs.items() if p is not None}

    def report_cpu(
        self, scenario: str, before: dict[str, float], after: dict[str, float], seconds: float
    ) -> None:
        busy = [f"{name} {(after[name] - before[name]) / seconds:.0%}" for name in before]
        self.results.add(scenario, "CPU busy, share of one core", ", ".join(busy))

    async def empty_streams(self) -> None:
        """Delete the streams and make them again, as the provisioner does at NATS start."""
        nc = await nats.connect(self.nats.url, **self.nats.connect_options())
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                if info.config.name.startswith("WOMENTO_"):
                    await js.delete_stream(info.config.name)
        finally:
            await nc.close()
        await asyncio.to_thread(self.nats.provision)

    # --- scenarios ------------------------------------------------------------------

    async def run(self) -> None:
        await self.relay_throughput()
        await self.consumer_throughput()
        await self.api_to_effect_latency()

    async def relay_throughput(self) -> None:
        """1. N rows committed into intake.outbox at once; time until all are in the stream."""
        name = "1. Outbox relay (intake)"
        n = self.events
        await self.empty_streams()
        url, dsn = self.new_database("bench_relay")
        await self.start_services(["intake"], url, "relay")
        try:
            envelopes = [_application_received() for _ in range(n)]
            rows = [(e.id, e.nats_subject, e.type, e.to_bytes(), e.time) for e in envelopes]
            nc = await nats.connect(self.nats.url, **self.nats.connect_options())
            conn = await asyncpg.connect(dsn)
            try:
                js = nc.jetstream()
                before = (await js.stream_info(INTAKE_STREAM)).state.messages
                tx = conn.transaction()
                await tx.start()
                await conn.executemany(
                    "INSERT INTO intake.outbox (id, subject, event_type, payload, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    rows,
                )
                await conn.execute("SELECT pg_notify('womento_outbox_intake', '')")
                cpu = self.cpu_snapshot()
                started = time.perf_counter()
                await tx.commit()
                await _wait_for(
                    lambda: _stream_messages(js),
                    before + n,
                    limit_seconds=_timeout(n),
                    interval=STREAM_POLL,
                    what=f"{INTAKE_STREAM} messages",
                )
                seconds = time.perf_counter() - started
                cpu_after = self.cpu_snapshot()
            finally:
                await conn.close()
                await nc.close()
        finally:
            self.stop_services()
        self.results.add(name, f"{n} events, commit to all in stream", f"{seconds:.2f} s")
        self.results.add(name, "throughput", f"{n / seconds:,.0f} events/s")
        self.report_cpu(name, cpu, cpu_after, seconds)

    async def consumer_throughput(self) -> None:
        """2. N envelopes published straight to JetStream; time until matching has N rows."""
        name = "2. Consumer (matching)"
        n = self.events
        await self.empty_streams()
        url, dsn = self.new_database("bench_consumer")
        await self.start_services(["matching"], url, "consumer")
        try:
            envelopes = [_application_received() for _ in range(n)]
            nc = await nats.connect(self.nats.url, **self.nats.connect_options())
            conn = await asyncpg.connect(dsn)
            try:
                js = nc.jetstream()
                cpu = self.cpu_snapshot()
                started = time.perf_counter()
                for i in range(0, n, PUBLISH_BATCH):
                    await asyncio.gather(
                        *(_publish(js, e) for e in envelopes[i : i + PUBLISH_BATCH])
                    )
                published = time.perf_counter() - started
                await _wait_for(
                    lambda: conn.fetchval("SELECT count(*) FROM matching.applications"),
                    n,
                    limit_seconds=_timeout(n),
                    interval=STREAM_POLL,
                    what="matching.applications rows",
                )
                seconds = time.perf_counter() - started
                cpu_after = self.cpu_snapshot()
            finally:
                await conn.close()
                await nc.close()
        finally:
            self.stop_services()
        self.results.add(name, f"{n} events published to JetStream", f"{published:.2f} s")
        self.results.add(name, f"{n} events, first publish to all applied", f"{seconds:.2f} s")
        self.results.add(name, "throughput", f"{n / seconds:,.0f} events/s")
        self.report_cpu(name, cpu, cpu_after, seconds)

    async def api_to_effect_latency(self) -> None:
        """3. POST applications one at a time; time from request to the row in feedback.

        4. Then the RSS of every service process, with all four still running.
        """
        name = "3. API to effect (intake -> feedback)"
        await self.empty_streams()
        url, dsn = self.new_database("bench_latency")
        await self.start_services(SERVICES, url, "latency")
        try:
            _, cycle_id = await open_cycle(url)
            intake = next(s for s in self.running if s.name == "intake")
            conn = await asyncpg.connect(dsn)
            try:
                seen = await conn.prepare(
                    "SELECT EXISTS (SELECT 1 FROM feedback.applications WHERE application_id = $1)"
                )
                effect_ms: list[float] = []
                api_ms: list[float] = []
                async with httpx.AsyncClient(base_url=intake.base_url, timeout=10) as client:
                    for i in range(LATENCY_WARMUP + LATENCY_REQUESTS):
                        api, effect = await _one_application(client, seen, cycle_id)
                        if i >= LATENCY_WARMUP:
                            api_ms.append(api)
                            effect_ms.append(effect)
            finally:
                await conn.close()
            for q in (50, 95, 99):
                self.results.add(name, f"effect latency p{q}", f"{percentile(effect_ms, q):.1f} ms")
            self.results.add(name, "effect latency max", f"{max(effect_ms):.1f} ms")
            for q in (50, 99):
                self.results.add(name, f"API response p{q}", f"{percentile(api_ms, q):.1f} ms")
            for service in self.running:
                assert service.proc.process is not None
                rss = psutil.Process(service.proc.process.pid).memory_info().rss
                self.results.add(
                    "4. Memory (after 3)", f"RSS {service.name}", f"{rss / 2**20:.0f} MiB"
                )
        finally:
            self.stop_services()


# --- helpers --------------------------------------------------------------------------------


def _application_received() -> Envelope:
    clock = SystemClock()
    event = ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=Role.MENTEE,
        submitted_at=clock.now(),
    )
    return Envelope.wrap(event, organisation_id=uuid4(), clock=clock)


async def _publish(js: JetStreamContext, envelope: Envelope) -> None:
    await js.publish(
        SUBJECT,
        envelope.to_bytes(),
        stream=INTAKE_STREAM,
        headers={"Nats-Msg-Id": str(envelope.id)},
        timeout=30,
    )


async def _stream_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(INTAKE_STREAM)).state.messages)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children, reaped or alive (PostgreSQL's backends)."""
    proc = psutil.Process(pid)
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


def _timeout(n: int) -> float:
    return 120 + n / 20


async def _wait_for(
    current: Callable[[], Any], target: int, *, limit_seconds: float, interval: float, what: str
) -> None:
    deadline = time.perf_counter() + limit_seconds
    value = 0
    while True:
        value = int(await current())
        if value >= target:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: {value} of {target} after {limit_seconds:.0f}s")
        await asyncio.sleep(interval)


async def _one_application(
    client: httpx.AsyncClient, seen: asyncpg.prepared_stmt.PreparedStatement, cycle_id: UUID
) -> tuple[float, float]:
    """(API response ms, request-to-row-in-feedback ms) for one new application."""
    payload = application_payload(cycle_id)
    started = time.perf_counter()
    response = await client.post("/api/v1/applications", json=payload)
    answered = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/v1/applications: {response.status_code} {response.text}")
    application_id = UUID(response.json()["application_id"])
    deadline = answered + 30
    while not await seen.fetchval(application_id):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"application {application_id} not in feedback after 30 s")
        await asyncio.sleep(EFFECT_POLL)
    return (answered - started) * 1000, (time.perf_counter() - started) * 1000


def machine_facts(pg: PostgresServer) -> list[tuple[str, str]]:
    def run(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
        except Exception as exc:  # a fact we cannot get is reported, not fatal
            return f"unknown ({exc})"

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 2**20:.1f} GiB"
    nproc = run("nproc") if shutil.which("nproc") else str(len(os.sched_getaffinity(0)))
    pg_settings = ", ".join(
        f"{s}={pg.psql(f'SHOW {s}')}" for s in ("fsync", "synchronous_commit", "full_page_writes")
    )
    return [
        ("nproc", nproc),
        ("CPU", cpu),
        ("memory", memory),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("nats-server", run(find_nats_server(), "--version")),
        ("PostgreSQL", f"{pg.psql('SHOW server_version')} ({pg_settings})"),
    ]


def print_machine(facts: list[tuple[str, str]], load_before: float) -> None:
    """The machine table every benchmark ends with, with the load at start and at end."""
    print("| Machine | |")
    print("| --- | --- |")
    load = f"{load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    for key, value in [*facts, ("load average (1 min)", load)]:
        print(f"| {key} | {value} |")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """So that `kill <bench pid>` still runs the clean-up in `finally`."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backbone", description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events in scenarios 1-2")
    parser.add_argument("--quick", action="store_true", help="500 events (a smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = parser.parse_args(argv)
    events = 500 if args.quick else args.events
    if events < 1:
        parser.error("--events must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="womento-bench-"))
    workdir.chmod(0o755)
    bench = Bench(workdir, events)
    ok = False
    load_before = os.getloadavg()[0]
    with _sigterm_as_interrupt():
        try:
            bench.start_servers()
            facts = machine_facts(bench.pg)
            asyncio.run(bench.run())
            ok = True
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            log("stopping services, PostgreSQL and NATS")
            bench.stop_all()
            if ok and not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                log(f"logs kept in {workdir}")

    print()
    print(f"## Event backbone benchmark ({events} events in scenarios 1-2)")
    print()
    print(
        "PostgreSQL: embedded, PostgresServer(durable=True) as in `make run` (fsync on). "
        "Services: real processes, default settings (outbox batch 100, consumer pull batch 16), "
        "WOMENTO_ENV=test, WOMENTO_LOG_LEVEL=WARNING. "
        f"Scenario 3: {LATENCY_REQUESTS} sequential POSTs after {LATENCY_WARMUP} uncounted "
        f"warm-up POSTs, feedback polled every {EFFECT_POLL * 1000:.0f} ms."
    )
    print()
    print(bench.results.markdown())
    print()
    print_machine(facts, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
