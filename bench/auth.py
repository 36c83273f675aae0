"""What closing the bus costs (issue 11): the backbone's scenarios with and without NATS
authentication, in one run, on the same PostgreSQL.

`python -m bench.auth [--events N | --quick] [--rounds R]` runs, for each NATS mode, the
backbone's scenario 1 (outbox relay), 2 (consumer) and 3 (API to effect latency)
(`bench/backbone.py`, same code):

- `open`: a server without configuration, anonymous clients, one account (as before
  issue 11; `NatsServer(auth=False)`, which exists only for this benchmark);
- `accounts`: the accounts, nkey users and per-service permissions of `shared.natsauth`,
  as `make run` and the test suite run;
- `accounts+TLS`: the same over TLS with a local CA, as production must run.

Each mode gets its own NATS server (its own folder) and each scenario a fresh database.
The modes run in turn, and in reverse order in the next round, so that a machine that
slows down over the run does not favour one mode. Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.backbone import (
    LATENCY_REQUESTS,
    LATENCY_WARMUP,
    Bench,
    _sigterm_as_interrupt,
    log,
    machine_facts,
    print_machine,
)
from shared.launcher import NatsServer, PostgresServer

MODES = {
    "open": {"auth": False, "tls": False},
    "accounts": {"auth": True, "tls": False},
    "accounts+TLS": {"auth": True, "tls": True},
}
METRICS = (
    ("1. Outbox relay (intake)", "throughput"),
    ("2. Consumer (matching)", "throughput"),
    ("3. API to effect (intake -> feedback)", "effect latency p50"),
    ("3. API to effect (intake -> feedback)", "effect latency p99"),
    ("3. API to effect (intake -> feedback)", "API response p50"),
)


class ModeBench(Bench):
    """The backbone's scenarios against one NATS mode, on a shared PostgreSQL."""

    def __init__(self, workdir: Path, events: int, mode: str, pg: PostgresServer) -> None:
        super().__init__(workdir, events, NatsServer(workdir / f"nats-{mode}", **MODES[mode]))
        self.pg = pg

    async def run(self) -> None:
        await self.relay_throughput()
        await self.consumer_throughput()
        await self.api_to_effect_latency()


def _number(value: str) -> float:
    return float(value.split()[0].replace(",", ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auth", description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events in scenarios 1-2")
    parser.add_argument("--quick", action="store_true", help="300 events, one round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the modes")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = parser.parse_args(argv)
    events, rounds = (300, 1) if args.quick else (args.events, args.rounds)
    if events < 1 or rounds < 1:
        parser.error("--events and --rounds must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="womento-bench-auth-"))
    workdir.chmod(0o755)
    pg = PostgresServer(workdir / "postgres", durable=True)
    results: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    benches: list[ModeBench] = []
    ok = False
    load_before = os.getloadavg()[0]
    with _sigterm_as_interrupt():
        try:
            log(f"starting PostgreSQL (durable=True) in {workdir}")
            pg.start()
            facts = machine_facts(pg)
            for round_number in range(rounds):
                order = list(MODES) if round_number % 2 == 0 else list(reversed(MODES))
                for mode in order:
                    log(f"round {round_number + 1}, NATS mode {mode}")
                    bench = ModeBench(workdir / f"round{round_number + 1}", events, mode, pg)
                    benches.append(bench)
                    bench.nats.start()
                    try:
                        asyncio.run(bench.run())
                    finally:
                        bench.stop_services()
                        bench.nats.stop()
                    for scenario, metric, value in bench.results.rows:
                        results[(scenario, metric, mode)].append(value)
            ok = True
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            log("stopping services, PostgreSQL and NATS")
            for bench in benches:
                bench.stop_services()
                bench.nats.stop()
            pg.stop()
            if ok and not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                log(f"logs kept in {workdir}")

    print()
    print(f"## NATS authentication cost ({events} events in scenarios 1-2, {rounds} round(s))")
    print()
    print(
        f"Scenario 3: {LATENCY_REQUESTS} sequential POSTs after {LATENCY_WARMUP} warm-up POSTs. "
        "Each cell: the rounds' results in run order; the ratio compares the rounds' means "
        "with `open`."
    )
    print()
    modes = list(MODES)
    print(
        "| Scenario | Metric | "
        + " | ".join(modes)
        + " | "
        + " | ".join(f"{m} / open" for m in modes[1:])
        + " |"
    )
    print("| --- | --- |" + " ---: |" * (2 * len(modes) - 1))
    for scenario, metric in METRICS:
        cells = [results[(scenario, metric, mode)] for mode in modes]
        means = [sum(map(_number, c)) / len(c) if c else float("nan") for c in cells]
        ratios = [f"{mean / means[0]:.2f}" for mean in means[1:]]
        row = [scenario, metric, *("; ".join(c) for c in cells), *ratios]
        print("| " + " | ".join(row) + " |")
    print()
    print_machine(facts, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
