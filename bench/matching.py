"""Benchmark of whole-cohort matching against SciPy's bare `linear_sum_assignment`.

`python -m bench.matching [--quick] [--repeat N] [--sizes 40x45,1000x1000]`

Cohorts are generated (seeded, see `cohort`) at 40x45 (Womento's size), 1,000x1,000 and
10,000x10,000 mentees x mentors, mentor capacities 1-3. Each measurement runs in a fresh child
process (`--child`), so its peak RSS (the parent reads it with os.wait4, which counts numpy and
SciPy C allocations too) belongs to that measurement alone:

- `best` / `most`: `services.matching.domain.propose` in BEST_TOTAL_FIT / MOST_MATCHED:
  scoring + exact assignment + certificate + explanations, from the profiles to the Proposal.
- `lsa_big` / `lsa_zero`: the dense mentee x mentor-place matrix (each mentor repeated
  `capacity` times) of the same integer scores as float64 costs -score, forbidden pairs at
  cost 10**12 (`lsa_big`, "forbidden at a large cost": its optimum is MOST_MATCHED's) or 0
  (`lsa_zero`: its optimum is BEST_TOTAL_FIT's), then `scipy.optimize.linear_sum_assignment`
  alone, timed on its own. The matrix is built before the clock starts; its memory counts in
  the child's peak RSS.

The parent checks that the totals agree (propose vs bare assignment) and prints a Markdown
table for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from services.matching.domain import (
    SCALE,
    Mentee,
    Mentor,
    Mode,
    Weights,
    propose,
    score_matrix,
)
from shared.events import Cefr, LanguageSkill, MatchingProfile, Role

SIZES = ((40, 45), (1_000, 1_000), (10_000, 10_000))
QUICK_SIZES = ((40, 45), (1_000, 1_000))
KINDS = ("best", "most", "lsa_big", "lsa_zero")
FORBIDDEN_COST = 1e12

# ~47 ISCO-08 unit groups in 10 sub-major groups (3 major groups), where highly educated
# migrant women and their mentors mostly work: professionals (2) dominate.
UNIT_GROUPS = {
    "21": ["2111", "2113", "2131", "2141", "2142", "2144", "2145", "2149", "2151", "2152"],
    "22": ["2211", "2212", "2221", "2261", "2262"],
    "23": ["2310", "2320", "2330", "2341", "2359"],
    "24": ["2411", "2412", "2421", "2423", "2431"],
    "25": ["2511", "2512", "2513", "2514", "2521", "2529"],
    "26": ["2611", "2631", "2632", "2642", "2643"],
    "12": ["1211", "1212", "1221"],
    "13": ["1321", "1330"],
    "31": ["3112", "3113", "3119"],
    "33": ["3313", "3322", "3343"],
}
# ISCED-F fields (narrow/detailed) that go with each sub-major group
FIELDS = {
    "21": ["0511", "0521", "0533", "0711", "0713", "0714", "0715", "0732"],
    "22": ["0912", "0913", "0914", "0915", "0917"],
    "23": ["0111", "0112", "0114", "0231", "0232"],
    "24": ["0311", "0411", "0412", "0413", "0414", "0421"],
    "25": ["0611", "0612", "0613", "0688"],
    "26": ["0222", "0314", "0321", "0421", "0923", "0215"],
    "12": ["0411", "0413", "0417"],
    "13": ["0413", "0713", "0722"],
    "31": ["0711", "0713", "0714", "0532"],
    "33": ["0411", "0412", "0414"],
}
REGIONS = ["01", "02", "04", "05", "06", "07", "08", "09", "10", "11"]
REGIONS += ["12", "13", "14", "15", "16", "17", "18", "19", "21"]
REGION_P = np.array([48, 9, 3, 3, 10, 3, 2, 2, 2, 4, 2, 4, 2, 3, 1, 6, 1, 2, 0.5])
MOTHER_TONGUES = ["ar", "ru", "fa", "so", "es", "zh", "uk", "tr", "fr", "pt", "vi", "hi", "ku"]
MENTOR_EXTRA = ["sv", "de", "fr", "es", "ru", "et", "it", "ar"]
TOPICS = [
    "cv",
    "job_search",
    "interview",
    "networking",
    "sector_insight",
    "work_culture",
    "career_change",
    "entrepreneurship",
    "further_education",
    "leadership",
    "language_at_work",
    "wellbeing",
]
Slot = Literal["weekday_daytime", "weekday_evening", "weekend"]
SLOTS: tuple[Slot, ...] = ("weekday_daytime", "weekday_evening", "weekend")
# chance of each slot for a mentee / mentor who gave any (mentees job-seeking, mentors working)
SLOT_P = {Role.MENTEE: (0.6, 0.6, 0.4), Role.MENTOR: (0.2, 0.7, 0.4)}
NO_SLOTS_P = 0.15
"""Share who give no availability (unknown)."""


def zipf(n: int, s: float, rng: np.random.Generator) -> np.ndarray[Any, np.dtype[np.float64]]:
    p = 1.0 / np.arange(1, n + 1) ** s
    return np.asarray(rng.permutation(p / p.sum()), dtype=np.float64)


def cohort(
    n_mentees: int, n_mentors: int, seed: int = 2026, kind: str = "realistic"
) -> tuple[list[Mentee], list[Mentor]]:
    """A realistic, reproducible cohort; ids are ints (mentees 0.., mentors 10**7..).
    kind "one-group" puts everyone in ISCO unit group 2142 (one block, many ties): a harder
    case than any real cohort, for the worst case."""
    rng = np.random.default_rng(seed)
    slot_rng = np.random.default_rng([seed, 1])  # own stream: the other draws stay as they were
    units = [(sub, code) for sub, codes in UNIT_GROUPS.items() for code in codes]
    unit_p = zipf(len(units), 1.0, rng)
    n_employers = max(5, n_mentors // 25)
    employer_p = zipf(n_employers, 1.1, rng)
    region_p = REGION_P / REGION_P.sum()
    levels = list(Cefr)

    def availability(role: Role) -> tuple[Slot, ...]:
        if slot_rng.random() < NO_SLOTS_P:
            return ()
        picked = [s for s, p in zip(SLOTS, SLOT_P[role], strict=True) if slot_rng.random() < p]
        return tuple(picked) or ("weekday_evening",)

    def profile(role: Role) -> MatchingProfile:
        sub, code = units[rng.choice(len(units), p=unit_p)]
        if rng.random() < 0.8:
            field = str(rng.choice(FIELDS[sub]))
        else:
            field = str(rng.choice(FIELDS[str(rng.choice(list(FIELDS)))]))
        languages: dict[str, Cefr] = {}
        if role is Role.MENTEE:
            languages["fi"] = levels[int(rng.choice([1, 2, 3, 4], p=[0.2, 0.45, 0.25, 0.1]))]
            if rng.random() < 0.9:
                languages["en"] = levels[int(rng.integers(3, 6))]
            languages[str(rng.choice(MOTHER_TONGUES, p=zipf(len(MOTHER_TONGUES), 0.8, rng)))] = (
                Cefr.NATIVE
            )
            level = int(rng.choice([6, 7, 8], p=[0.35, 0.55, 0.10]))
            employer = f"e{rng.choice(n_employers, p=employer_p)}" if rng.random() < 0.25 else None
            topics = rng.choice(TOPICS, size=int(rng.integers(1, 5)), replace=False)
        else:
            languages["fi"] = (
                Cefr.NATIVE if rng.random() < 0.85 else levels[int(rng.integers(4, 6))]
            )
            if rng.random() < 0.95:
                languages["en"] = levels[int(rng.integers(3, 6))]
            if rng.random() < 0.3:
                languages["sv"] = levels[int(rng.integers(2, 6))]
            if rng.random() < 0.15:
                languages[str(rng.choice(MENTOR_EXTRA))] = levels[int(rng.integers(2, 7))]
            level = int(rng.choice([6, 7, 8], p=[0.3, 0.6, 0.1]))
            employer = f"e{rng.choice(n_employers, p=employer_p)}" if rng.random() < 0.9 else None
            topics = rng.choice(TOPICS, size=int(rng.integers(2, 6)), replace=False)
        return MatchingProfile(
            role=role,
            isco_code=code,
            education_level=level,
            education_field=field,
            languages=tuple(LanguageSkill(language=k, level=v) for k, v in languages.items()),
            region=str(rng.choice(REGIONS, p=region_p)),
            remote_ok=bool(rng.random() < 0.7),
            topics=tuple(str(t) for t in topics),
            availability=availability(role),
            capacity=int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])),
            employer_key=employer,
        )

    mentees = [Mentee(i, profile(Role.MENTEE)) for i in range(n_mentees)]
    mentors = [Mentor(10**7 + j, profile(Role.MENTOR)) for j in range(n_mentors)]
    if kind == "one-group":
        mentees = [
            Mentee(x.id, x.profile.model_copy(update={"isco_code": "2142"})) for x in mentees
        ]
        mentors = [
            Mentor(x.id, x.profile.model_copy(update={"isco_code": "2142"})) for x in mentors
        ]
    return mentees, mentors


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- child: one measurement ---------------------------------------------------------------


def child(kind: str, n_mentees: int, n_mentors: int, cohort_kind: str) -> dict[str, Any]:
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    mentees, mentors = cohort(n_mentees, n_mentors, kind=cohort_kind)
    out: dict[str, Any] = {"rss_before_mib": rss_mib()}
    if kind in ("best", "most"):
        mode = Mode.BEST_TOTAL_FIT if kind == "best" else Mode.MOST_MATCHED
        stats: dict[str, float] = {}
        t0 = time.perf_counter()
        proposal = propose(mentees, mentors, weights=Weights(), mode=mode, stats=stats)
        out["seconds"] = time.perf_counter() - t0
        out["stats"] = stats
        out["pairs"] = len(proposal.pairs)
        out["unmatched"] = len(proposal.unmatched)
        out["total_units"] = round(proposal.total_score * SCALE)
        reasons: dict[str, int] = {}
        for u in proposal.unmatched:
            reasons[u.reasons[0].code] = reasons.get(u.reasons[0].code, 0) + 1
        out["unmatched_reasons"] = reasons
        return out
    t0 = time.perf_counter()
    scores, allowed = score_matrix(mentees, mentors)
    owner = np.repeat(np.arange(len(mentors)), [m.capacity for m in mentors])
    cost = np.empty((len(mentees), len(owner)), dtype=np.float64)
    forbidden = FORBIDDEN_COST if kind == "lsa_big" else 0.0
    step = 512
    for lo in range(0, len(owner), step):
        cols = owner[lo : lo + step]
        cost[:, lo : lo + step] = np.where(allowed[:, cols], -scores[:, cols], forbidden)
    del scores
    out["build_seconds"] = time.perf_counter() - t0
    out["matrix_shape"] = list(cost.shape)
    t1 = time.perf_counter()
    rows, cols = linear_sum_assignment(cost)
    out["seconds"] = time.perf_counter() - t1
    real = allowed[rows, owner[cols]]
    out["pairs"] = int(real.sum())
    out["total_units"] = round(float(-cost[rows[real], cols[real]].sum()))
    return out


# --- parent ---------------------------------------------------------------------------------


@dataclass
class Run:
    kind: str
    size: tuple[int, int]
    seconds: float
    peak_rss_mib: float
    data: dict[str, Any]


def measure(kind: str, size: tuple[int, int], timeout: float, cohort_kind: str) -> Run | None:
    args = [sys.executable, "-m", "bench.matching", "--child", kind, f"{size[0]}x{size[1]}"]
    args += ["--cohort", cohort_kind]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as proc:
        started = time.monotonic()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                print(f"  {kind} {size}: killed after {timeout:.0f} s", flush=True)
                return None
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        print(f"  {kind} {size}: exit {proc.returncode}", flush=True)
        return None
    data = json.loads(output.strip().splitlines()[-1])
    return Run(kind, size, float(data["seconds"]), usage.ru_maxrss / 1024, data)


def machine() -> dict[str, str]:
    import scipy  # type: ignore[import-untyped]

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as info:
        mem_kib = int(info.readline().split()[1])
    openblas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    return {
        "nproc": str(os.cpu_count()),
        "CPU": cpu,
        "memory": f"{mem_kib / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "OPENBLAS_* env": ", ".join(f"{k}={v}" for k, v in openblas.items()) or "unset",
        "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40x45 and 1000x1000 only")
    parser.add_argument("--sizes", help="e.g. 40x45,1000x1000 (overrides the defaults)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--timeout", type=float, default=900.0, help="per child, seconds")
    parser.add_argument(
        "--cohort", choices=["realistic", "one-group"], default="realistic", help="see cohort()"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, m = (int(x) for x in args.child[1].split("x"))
        print(json.dumps(child(args.child[0], n, m, args.cohort)), flush=True)
        return

    if args.sizes:
        sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = list(QUICK_SIZES if args.quick else SIZES)
    kinds = args.kinds.split(",")
    facts = machine() | {"cohort": args.cohort}
    for key, value in facts.items():
        print(f"{key}: {value}", flush=True)
    rows = []
    for size in sizes:
        runs: dict[str, list[Run]] = {}
        for kind in kinds:
            for _ in range(args.repeat):
                run = measure(kind, (size[0], size[1]), args.timeout, args.cohort)
                if run is None:
                    break
                runs.setdefault(kind, []).append(run)
                extra = run.data.get("stats", {})
                print(
                    f"  {size[0]}x{size[1]} {kind}: {run.seconds:.3f} s, peak RSS "
                    f"{run.peak_rss_mib:.0f} MiB, pairs {run.data['pairs']}, total "
                    f"{run.data['total_units']}"
                    + (
                        "".join(f", {k} {v:.3f}" for k, v in sorted(extra.items()))
                        if extra
                        else f", build {run.data['build_seconds']:.2f} s"
                    ),
                    flush=True,
                )
        rows.append((size, runs))
        check_totals(size, runs)
    print()
    print(table(rows))


def check_totals(size: tuple[int, ...], runs: dict[str, list[Run]]) -> None:
    pairs = {("best", "lsa_zero"), ("most", "lsa_big")}
    for ours, bare in sorted(pairs):
        if ours in runs and bare in runs:
            a, b = runs[ours][0].data, runs[bare][0].data
            same = a["total_units"] == b["total_units"]
            if ours == "most":
                same = same and a["pairs"] == b["pairs"]
            verdict = "agree" if same else "DISAGREE"
            print(f"  {size[0]}x{size[1]}: {ours} vs {bare} totals {verdict}", flush=True)


def table(rows: list[tuple[tuple[int, ...], dict[str, list[Run]]]]) -> str:
    lines = [
        "| Cohort | Run | Time (median) | Peak RSS | RSS before the run | Pairs"
        " | Ratio to bare LSA |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    breakdown = [
        "| Cohort | Mode | prepare | tables | score + pick | assign (LAPJVsp) | certify |"
        " explain | rounds | max sparse edges |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, runs in rows:
        bare = {"best": runs.get("lsa_zero"), "most": runs.get("lsa_big")}
        for kind, measured in runs.items():
            seconds = statistics.median(r.seconds for r in measured)
            rss = max(r.peak_rss_mib for r in measured)
            before = max(r.data["rss_before_mib"] for r in measured)
            ratio = ""
            base = bare.get(kind)
            if base:
                ratio = f"{seconds / statistics.median(r.seconds for r in base):.2f}x"
            shape = measured[0].data.get("matrix_shape")
            label = kind if not shape else f"{kind} ({shape[0]}x{shape[1]} float64)"
            lines.append(
                f"| {size[0]:,}x{size[1]:,} | {label} | {seconds:.3f} s | {rss:,.0f} MiB "
                f"| {before:,.0f} MiB | {measured[0].data['pairs']:,} | {ratio} |"
            )
            if "stats" in measured[0].data:
                middle = sorted(measured, key=lambda r: r.seconds)[len(measured) // 2]
                st = middle.data["stats"]
                cells = [
                    f"{st[key]:.3f}"
                    for key in (
                        "prepare_seconds",
                        "tables_seconds",
                        "score_seconds",
                        "assign_seconds",
                        "certify_seconds",
                        "explain_seconds",
                    )
                ]
                breakdown.append(
                    f"| {size[0]:,}x{size[1]:,} | {kind} | "
                    + " | ".join(cells)
                    + f" | {st['rounds']:.0f} | {st['edges']:,.0f} |"
                )
    return (
        "\n".join(lines)
        + "\n\nTime of the median run of `propose`, in seconds:\n\n"
        + "\n".join(breakdown)
    )


if __name__ == "__main__":
    main()
