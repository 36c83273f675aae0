"""Benchmark of scheduling's pure small-group split (`domain.split_into_groups`).

`python -m bench.scheduling [--sizes 40,200,1000] [--repeat 5]`: for each size, seeded pairs
with ISCO major groups "1"-"9" and six regions (one pair in ten with no region: remote only or
unknown) are split with the default sizes (5-8). Each size is timed `--repeat` times in this
process (median and range reported); the groups are checked for what the function promises
(every pair once, sizes differ by at most one, each field's count differs by at most one
between groups) and the largest spread of a region's count between groups is reported.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from uuid import UUID

from services.scheduling.domain import PairInfo, split_into_groups

FIELDS = [str(n) for n in range(1, 10)]
REGIONS = ["01", "02", "06", "11", "13", "17"]
NO_REGION_P = 0.1


def pairs(n: int, seed: int = 2026) -> list[PairInfo]:
    rng = random.Random(seed)
    return [
        PairInfo(
            UUID(int=rng.getrandbits(128)),
            rng.choice(FIELDS),
            None if rng.random() < NO_REGION_P else rng.choice(REGIONS),
        )
        for _ in range(n)
    ]


def spread(groups: Sequence[Sequence[UUID]], value: dict[UUID, str | None]) -> int:
    """The largest difference, over values, between two groups' counts of that value."""
    counts = [Counter(value[p] for p in group) for group in groups]
    keys = {k for c in counts for k in c}
    return max((max(c[k] for c in counts) - min(c[k] for c in counts)) for k in keys)


def measure(n: int, repeat: int) -> dict[str, object]:
    infos = pairs(n)
    times, cpu = [], []
    groups: list[list[UUID]] = []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        groups = split_into_groups(infos)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    placed = [p for group in groups for p in group]
    assert sorted(placed) == sorted(p.pair_id for p in infos), "a pair lost or placed twice"
    sizes = [len(group) for group in groups]
    assert max(sizes) - min(sizes) <= 1, sizes
    field_spread = spread(groups, {p.pair_id: p.isco_major for p in infos})
    assert field_spread <= 1, field_spread
    return {
        "pairs": n,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "cpu": statistics.median(cpu),
        "groups": len(groups),
        "sizes": f"{min(sizes)}-{max(sizes)}",
        "region_spread": spread(groups, {p.pair_id: p.region for p in infos}),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduling", description=__doc__)
    parser.add_argument("--sizes", default="40,200,1000", help="pair counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs per size (median)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        row = measure(n, args.repeat)
        rows.append(row)
        print(
            f"{n} pairs: median {row['median']:.4f} s (range {row['min']:.4f}-{row['max']:.4f}),"
            f" CPU {row['cpu']:.4f} s,"
            f" {row['groups']} groups of {row['sizes']}, region spread {row['region_spread']}",
            flush=True,
        )
    print()
    print("| Pairs | Time (median) | Range | CPU time (median) | Groups | Sizes | Region spread |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for r in rows:
        print(
            f"| {r['pairs']:,} | {_ms(r['median'])} | {_ms(r['min'])}-{_ms(r['max'])} "
            f"| {_ms(r['cpu'])} "
            f"| {r['groups']} | {r['sizes']} | {r['region_spread']} |"
        )
    print()
    print(
        f"Python {platform.python_version()}, nproc {os.cpu_count()}, {args.repeat} runs per size,"
        f" load average (1 min) {load:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )


def _ms(seconds: object) -> str:
    assert isinstance(seconds, float)
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
