"""Matching's pure domain: compatibility of a mentee and a mentor, and the whole cohort's pairs.

No I/O here: `propose` takes the cohort (mentees, mentors with their places this cycle), the
programme's weights, the coordinator's locks and exclusions and a mode, and returns a proposal
with every pair's score and reasons and every unmatched mentee's reasons and nearest mentors.

Scores. Each component of a pair is in [0, 1] (see `components`). The score is their weighted
mean, computed in integer millionths: the weights are split into integer shares of
`SCALE` (largest remainder, so the shares add up to exactly `SCALE`) and each component adds
round(share * value). The score is that sum / `SCALE`, so it is in [0, 1], less than 6.5e-6
from the real-valued weighted mean (at most half a unit per component from rounding each
contribution, under 3 units in all from rounding the shares; ~3e-6 at worst in practice),
and additive without rounding: totals are exact and two solutions with the same total
really tie.

Hard rules. A pair is allowed only if the two share at least the ISCO-08 major group (the
field component is above 0), do not share an employer (equal `employer_key`; a missing key
never conflicts) and the coordinator did not exclude it. Mentor capacity is never exceeded.
Locked pairs are made as they are; a lock that breaks a rule raises `LockConflict` before
anything is solved.

Assignment. Allowed pairs never cross ISCO major groups, so each major group is an independent
problem (a "block"). Within one, the exact optimum of the capacitated assignment is found so:

1. Score the block's mentee x mentor pairs (int32, a few table look-ups per pair: `_Scorer`),
   chunk by chunk on a few threads, and keep about `candidates` best allowed mentors per
   mentee (ties broken by a fixed pseudo-random order per mentee, so that equal mentees do
   not all queue for the same equal mentors), plus a bound on the scores left out. The block's
   matrix is never stored: it is recomputed by chunks when needed, which on this kind of
   machine costs less than first touching n x m integers.
2. Solve that sparse problem exactly with SciPy's LAPJVsp
   (`min_weight_full_bipartite_matching`): one column per mentor place, plus one "unmatched"
   column per mentee (so a full matching always exists); costs are B - weight, B above every
   weight, which adds the same B to every full matching, so optima are preserved.
3. Prove the result optimal for the *whole* block: node potentials d (shortest distances
   from the sink in the residual graph of the equivalent min-cost flow, by an early-stopping
   Bellman-Ford; SciPy's own always does |V| passes) satisfy weight(i, j) <= d[i] - d[j] on
   every residual arc. If every pair left out of the sparse problem satisfies the same
   inequality, adding them all creates no negative cycle, so the flow stays optimal. Pairs
   that fail (and some that nearly fail) are added and the problem is solved again; it ends,
   since the sparse set only grows. A mentee whose left-out scores are all <= d[i] needs no
   check (mentor potentials are <= 0), so each check rescores only a few rows.

Weights. BEST_TOTAL_FIT maximises the sum of scores. MOST_MATCHED maximises the sum of
(score + M) with M = SCALE * (largest possible number of pairs) + 1: one more pair is worth
more than any difference in total score, so it matches as many mentees as possible and, among
those matchings, has the best total. All weights are integers below 2**53, so the float64
arithmetic of the solver and of the certificate is exact.

Determinism. Mentees and mentors are sorted by id first, and every step is deterministic
(threads work on disjoint chunks whose results are joined in order), so the same cohort in
any order gives the same proposal.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple, TypeAlias, TypeVar
from uuid import UUID

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_array  # type: ignore[import-untyped]
from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
    min_weight_full_bipartite_matching,
)

from services.matching import isco
from shared.collector import collector_paused
from shared.events import Cefr, MatchingProfile, Role

PersonId: TypeAlias = UUID | int | str
Pair: TypeAlias = tuple[PersonId, PersonId]
"""(mentee_id, mentor_id)"""
ReasonValue: TypeAlias = str | int | float | list[str]

SCALE = 1_000_000
"""Scores are computed in integer units of 1 / SCALE."""
MAX_WEIGHT = 10.0
COMPONENTS = (
    "field",
    "education",
    "languages",
    "finnish_support",
    "region",
    "topics",
    "availability",
)
FINNISH = "fi"
DEFAULT_CANDIDATES = 16
"""Mentors per mentee in the first sparse problem; a speed knob only, never changes results."""

_CEFR_RANK = {
    Cefr.A1: 1,
    Cefr.A2: 2,
    Cefr.B1: 3,
    Cefr.B2: 4,
    Cefr.C1: 5,
    Cefr.C2: 6,
    Cefr.NATIVE: 7,
}
_RANK_NAME = {0: "none"} | {rank: level.value for level, rank in _CEFR_RANK.items()}
_USABLE = _CEFR_RANK[Cefr.B1]
"""A shared language counts from B1 (independent user) on both sides."""
_SUPPORTS = _CEFR_RANK[Cefr.C1]
"""A mentor supports Finnish from C1; a mentee needs support below C1."""
_FIELD_REASONS = {
    4: "same_unit_group",
    3: "same_minor_group",
    2: "same_sub_major_group",
    1: "same_major_group",
}
_FORBIDDEN = np.int32(-1)
"""Score-matrix value of a pair that a hard rule forbids (scores are >= 0)."""
_SLACK = SCALE / 50
"""Pairs this close to violating the certificate are added along with the violators."""
_TABLE_LIMIT = 1 << 22
"""Largest merged look-up table (entries) built for scoring."""
_MAX_EXACT = 2**53


# --- data -----------------------------------------------------------------------------


class Mode(StrEnum):
    BEST_TOTAL_FIT = "best_total_fit"
    MOST_MATCHED = "most_matched"


@dataclass(frozen=True)
class Weights:
    """How much each component counts; each 0 <= w <= MAX_WEIGHT, at least one above 0."""

    field: float = 3.0
    education: float = 1.0
    languages: float = 1.0
    finnish_support: float = 1.0
    region: float = 1.0
    topics: float = 2.0
    availability: float = 1.0

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            value: object = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0 <= value <= MAX_WEIGHT
            ):
                raise ValueError(
                    f"weight {name} must be a number from 0 to {MAX_WEIGHT:g}, got {value!r}"
                )
        if not any(getattr(self, name) > 0 for name in COMPONENTS):
            raise ValueError("at least one weight must be above 0")

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, name)) for name in COMPONENTS)

    def shares(self) -> tuple[int, ...]:
        """Integer shares of SCALE in proportion to the weights, adding up to exactly SCALE."""
        exact = [Fraction(w) for w in self.as_tuple()]
        total = sum(exact, Fraction(0))
        raw = [w * SCALE / total for w in exact]
        shares = [math.floor(r) for r in raw]
        left = SCALE - sum(shares)
        by_remainder = sorted(range(len(raw)), key=lambda k: (-(raw[k] - shares[k]), k))
        for k in by_remainder[:left]:
            shares[k] += 1
        return tuple(shares)


class Components(NamedTuple):
    """The components of one pair, each in [0, 1]."""

    field: float
    education: float
    languages: float
    finnish_support: float
    region: float
    topics: float
    availability: float


class Reason(NamedTuple):
    """A reason code with parameters, for the intake UI to put into words."""

    code: str
    params: dict[str, ReasonValue]


def _id_key(value: PersonId) -> tuple[int, int, str]:
    if isinstance(value, bool):
        raise TypeError("an id cannot be a bool")
    if isinstance(value, int):
        return (0, value, "")
    if isinstance(value, str):
        return (1, 0, value)
    if isinstance(value, UUID):
        return (2, value.int, "")
    raise TypeError(f"an id must be a UUID, int or str, got {type(value).__name__}")


@dataclass(frozen=True)
class Mentee:
    id: PersonId
    profile: MatchingProfile

    def __post_init__(self) -> None:
        _id_key(self.id)
        if self.profile.role is not Role.MENTEE:
            raise ValueError(f"mentee {self.id} has a {self.profile.role} profile")


@dataclass(frozen=True, init=False)
class Mentor:
    """A mentor available this cycle; `capacity` (places) defaults to the profile's."""

    id: PersonId
    profile: MatchingProfile
    capacity: int

    def __init__(self, id: PersonId, profile: MatchingProfile, capacity: int | None = None):
        places = profile.capacity if capacity is None else capacity
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "capacity", places)
        _id_key(id)
        if profile.role is not Role.MENTOR:
            raise ValueError(f"mentor {id} has a {profile.role} profile")
        if isinstance(places, bool) or not isinstance(places, int) or places < 1:
            raise ValueError(f"mentor {id}: capacity must be an integer >= 1, got {places!r}")


@dataclass(frozen=True, init=False)
class Constraints:
    """The coordinator's locked and excluded (mentee_id, mentor_id) pairs."""

    locked: frozenset[Pair]
    excluded: frozenset[Pair]

    def __init__(self, locked: Iterable[Pair] = (), excluded: Iterable[Pair] = ()):
        object.__setattr__(self, "locked", frozenset(locked))
        object.__setattr__(self, "excluded", frozenset(excluded))


class LockConflict(ValueError):
    """A locked pair that cannot be honoured; raised before anything is solved."""

    def __init__(self, pair: Pair, reason: str, detail: str) -> None:
        super().__init__(f"locked pair (mentee {pair[0]}, mentor {pair[1]}): {detail}")
        self.pair, self.reason = pair, reason


@dataclass(frozen=True)
class ProposedPair:
    mentee_id: PersonId
    mentor_id: PersonId
    score: float
    components: Components
    reasons: tuple[Reason, ...]
    locked: bool = False


class Candidate(NamedTuple):
    """A near mentor of an unmatched mentee, and why she was not chosen."""

    mentor_id: PersonId
    score: float
    why_not: str
    """The first that applies: different_field, same_employer, excluded, capacity_taken (her
    places went to others). ("not_chosen" would mean an allowed mentor with a free place,
    which an optimal proposal never leaves; it is there only so that a bug cannot lie.)"""


@dataclass(frozen=True)
class Unmatched:
    mentee_id: PersonId
    reasons: tuple[Reason, ...]
    """One of no_mentor_in_field, only_conflicts, capacity_taken (with parameters)."""
    nearest: tuple[Candidate, ...]
    """Up to 3 mentors with the highest score, whatever the rules, best first."""


@dataclass(frozen=True)
class Proposal:
    pairs: tuple[ProposedPair, ...]
    unmatched: tuple[Unmatched, ...]
    total_score: float
    mode: Mode


# --- components -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Features:
    """What the components read of one profile, normalised once."""

    isco: str
    major: str
    edu_level: int
    edu_field: str | None
    langs: frozenset[str]
    finnish: int
    region: str | None
    remote: bool
    topics: frozenset[str]
    availability: frozenset[str]
    employer: str | None

    @classmethod
    def of(cls, p: MatchingProfile) -> _Features:
        finnish = 0
        langs: set[str] = set()
        for skill in p.languages:
            rank = _CEFR_RANK[skill.level]
            if skill.language == FINNISH:
                finnish = max(finnish, rank)
            elif rank >= _USABLE:
                langs.add(skill.language)
        return cls(
            isco=isco.validate(p.isco_code),
            major=p.isco_code[0],
            edu_level=p.education_level,
            edu_field=p.education_field,
            langs=frozenset(langs),
            finnish=finnish,
            region=p.region,
            remote=p.remote_ok,
            topics=frozenset(p.topics),
            availability=frozenset(p.availability),
            employer=p.employer_key,
        )


def _education_field_part(e: str | None, r: str | None) -> float:
    if e is None or r is None:
        return 0.0
    if len(e) >= 3 and len(r) >= 3 and e[:3] == r[:3]:
        return 1.0
    return 0.5 if e[:2] == r[:2] else 0.0


def _finnish_value(e: int, r: int) -> float:
    if e >= _SUPPORTS:
        return 0.0  # she needs no support
    if r >= _SUPPORTS:
        return 1.0
    if r == _CEFR_RANK[Cefr.B2] and e <= _CEFR_RANK[Cefr.A2]:
        return 0.5
    return 0.0


def _region_value(
    e_region: str | None, e_remote: bool, r_region: str | None, r_remote: bool
) -> float:
    if e_region is not None and e_region == r_region:
        return 1.0
    return 0.6 if e_remote and r_remote else 0.0


def _availability_value(e: frozenset[str], r: frozenset[str]) -> float:
    if e & r:
        return 1.0
    return 0.5 if not e or not r else 0.0


def _shared_levels(a: str, b: str) -> int:
    """isco.shared_levels without validation (codes are validated in _Features.of)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _details(e: _Features, r: _Features) -> tuple[Components, tuple[Reason, ...]]:
    """The components of a pair and its reasons, in one pass (same values as the tables)."""
    out: list[Reason] = []
    shared = _shared_levels(e.isco, r.isco)
    if shared:
        out.append(Reason(_FIELD_REASONS[shared], {"isco": e.isco[:shared]}))
    part = _education_field_part(e.edu_field, r.edu_field)
    if part == 1.0 and e.edu_field is not None:
        out.append(Reason("same_education_field", {"isced_f": e.edu_field[:3]}))
    elif part == 0.5 and e.edu_field is not None:
        out.append(Reason("same_education_broad_field", {"isced_f": e.edu_field[:2]}))
    level_ok = r.edu_level >= e.edu_level
    if level_ok:
        out.append(Reason("mentor_education_level", {"mentor": r.edu_level, "mentee": e.edu_level}))
    langs = e.langs & r.langs
    for language in sorted(langs):
        out.append(Reason("shared_language", {"language": language}))
    finnish = _finnish_value(e.finnish, r.finnish)
    if finnish > 0:
        out.append(
            Reason(
                "finnish_support",
                {"level": _RANK_NAME[r.finnish], "mentee_level": _RANK_NAME[e.finnish]},
            )
        )
    region = _region_value(e.region, e.remote, r.region, r.remote)
    if region == 1.0 and e.region is not None:
        out.append(Reason("same_region", {"region": e.region}))
    elif region > 0:
        out.append(Reason("both_remote", {}))
    topics = e.topics & r.topics
    if topics:
        out.append(Reason("shared_topics", {"topics": sorted(topics)}))
    slots = e.availability & r.availability
    if slots:
        out.append(Reason("shared_availability", {"slots": sorted(slots)}))
    union = len(e.topics | r.topics)
    values = Components(
        field=shared * 0.25,
        education=0.75 * part + 0.25 * float(level_ok),
        languages=1.0 if langs else 0.0,
        finnish_support=finnish,
        region=region,
        topics=len(topics) / union if union else 0.0,
        availability=_availability_value(e.availability, r.availability),
    )
    return values, tuple(out)


def _components(e: _Features, r: _Features) -> Components:
    return _details(e, r)[0]


def _score_units(values: Components, shares: Sequence[int]) -> int:
    return sum(round(q * v) for q, v in zip(shares, values, strict=True))


def components(mentee: MatchingProfile, mentor: MatchingProfile) -> Components:
    """The components of a pair, each in [0, 1]:

    - field: ISCO-08 levels shared / 4 (same unit group 1.0, minor 0.75, sub-major 0.5, major
      0.25, else 0);
    - education: 0.75 * (same ISCED-F narrow field 1.0, same broad field 0.5) + 0.25 if the
      mentor's ISCED level is at least the mentee's;
    - languages: 1.0 if they share a language other than Finnish, both at B1 or above;
    - finnish_support: if the mentee's Finnish is below C1, 1.0 for a mentor at C1, C2 or
      native, 0.5 for a mentor at B2 with a mentee at A2 or below; otherwise 0;
    - region: 1.0 in the same region, else 0.6 if both are fine with remote, else 0;
    - topics: Jaccard index of the mentee's goal topics and the mentor's offer topics;
    - availability: 1.0 if they share a time slot (weekday daytime, weekday evening,
      weekend), 0.5 if either gave none (unknown), else 0.
    """
    return _components(_Features.of(mentee), _Features.of(mentor))


def score(
    mentee: MatchingProfile, mentor: MatchingProfile, weights: Weights | None = None
) -> float:
    """The pair's score in [0, 1], whatever the hard rules (as in the proposal)."""
    shares = (weights or Weights()).shares()
    return _score_units(components(mentee, mentor), shares) / SCALE


def _explain(e: _Features, r: _Features) -> tuple[Reason, ...]:
    return _details(e, r)[1]


def explain(mentee: MatchingProfile, mentor: MatchingProfile) -> tuple[Reason, ...]:
    """Structured reasons for a pair, in component order, e.g.
    ("same_unit_group", {"isco": "2142"}), ("shared_language", {"language": "ar"}),
    ("finnish_support", {"level": "C2", "mentee_level": "A2"}), ("same_region", {"region": "01"})
    or ("both_remote", {}), ("shared_topics", {"topics": [...]}),
    ("shared_availability", {"slots": ["weekday_evening", "weekend"]})."""
    return _explain(_Features.of(mentee), _Features.of(mentor))


def hard_rule(mentee: Mentee, mentor: Mentor, constraints: Constraints | None = None) -> str | None:
    """The hard rule that forbids the pair, or None if it is allowed:
    different_field (not even the same ISCO major group), same_employer, excluded."""
    e, r = _Features.of(mentee.profile), _Features.of(mentor.profile)
    excluded = constraints is not None and (mentee.id, mentor.id) in constraints.excluded
    return _rule(e, r, excluded=excluded)


def _rule(e: _Features, r: _Features, *, excluded: bool) -> str | None:
    if e.major != r.major:
        return "different_field"
    if e.employer is not None and e.employer == r.employer:
        return "same_employer"
    if excluded:
        return "excluded"
    return None


# --- vectorised scoring -------------------------------------------------------------------

Int32s: TypeAlias = NDArray[np.int32]
Int64s: TypeAlias = NDArray[np.int64]
Floats: TypeAlias = NDArray[np.float64]
Bools: TypeAlias = NDArray[np.bool_]


def _prefix_ints(codes: Sequence[str | None], length: int) -> Int64s:
    return np.array(
        [int(c[:length]) if c is not None and len(c) >= length else -1 for c in codes],
        dtype=np.int64,
    )


def _incidence(sets: Sequence[frozenset[str]], vocabulary: dict[str, int]) -> Floats:
    out = np.zeros((len(sets), max(1, len(vocabulary))), dtype=np.float64)
    for row, items in enumerate(sets):
        for item in items:
            out[row, vocabulary[item]] = 1.0
    return out


def _field_table(e: Sequence[str], r: Sequence[str]) -> Floats:
    shared = np.zeros((len(e), len(r)), dtype=np.float64)
    for length in range(1, 5):
        pe, pr = _prefix_ints(e, length), _prefix_ints(r, length)
        shared += (pe[:, None] == pr[None, :]) & (pe[:, None] >= 0)
    return shared * 0.25


def _education_table(
    e: Sequence[tuple[int, str | None]], r: Sequence[tuple[int, str | None]]
) -> Floats:
    e_fields, r_fields = [f for _, f in e], [f for _, f in r]
    narrow_e, narrow_r = _prefix_ints(e_fields, 3), _prefix_ints(r_fields, 3)
    broad_e, broad_r = _prefix_ints(e_fields, 2), _prefix_ints(r_fields, 2)
    same_narrow = (narrow_e[:, None] == narrow_r[None, :]) & (narrow_e[:, None] >= 0)
    same_broad = (broad_e[:, None] == broad_r[None, :]) & (broad_e[:, None] >= 0)
    part = np.where(same_narrow, 1.0, np.where(same_broad, 0.5, 0.0))
    level_e = np.array([level for level, _ in e], dtype=np.int64)
    level_r = np.array([level for level, _ in r], dtype=np.int64)
    level_ok = (level_r[None, :] >= level_e[:, None]).astype(np.float64)
    return np.asarray(0.75 * part + 0.25 * level_ok, dtype=np.float64)


def _set_tables(
    e: Sequence[frozenset[str]], r: Sequence[frozenset[str]]
) -> tuple[Floats, Floats, Floats]:
    """|A & B|, |A| and |B| for every pair of distinct sets (exact small integers)."""
    vocabulary: dict[str, int] = {}
    for items in (*e, *r):
        for item in sorted(items):
            vocabulary.setdefault(item, len(vocabulary))
    ie, ir = _incidence(e, vocabulary), _incidence(r, vocabulary)
    return ie @ ir.T, ie.sum(axis=1), ir.sum(axis=1)


def _languages_table(e: Sequence[frozenset[str]], r: Sequence[frozenset[str]]) -> Floats:
    inter, _, _ = _set_tables(e, r)
    return (inter > 0).astype(np.float64)


def _topics_table(e: Sequence[frozenset[str]], r: Sequence[frozenset[str]]) -> Floats:
    inter, size_e, size_r = _set_tables(e, r)
    union = size_e[:, None] + size_r[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)


def _availability_table(e: Sequence[frozenset[str]], r: Sequence[frozenset[str]]) -> Floats:
    inter, size_e, size_r = _set_tables(e, r)
    unknown = (size_e[:, None] == 0) | (size_r[None, :] == 0)
    return np.where(inter > 0, 1.0, np.where(unknown, 0.5, 0.0))


def _finnish_table(e: Sequence[int], r: Sequence[int]) -> Floats:
    return np.array([[_finnish_value(a, b) for b in r] for a in e], dtype=np.float64).reshape(
        len(e), len(r)
    )


def _region_table(
    e: Sequence[tuple[str | None, bool]], r: Sequence[tuple[str | None, bool]]
) -> Floats:
    return np.array(
        [[_region_value(a[0], a[1], b[0], b[1]) for b in r] for a in e], dtype=np.float64
    ).reshape(len(e), len(r))


_KEYS: dict[str, Callable[[_Features], Hashable]] = {
    "field": lambda f: f.isco,
    "education": lambda f: (f.edu_level, f.edu_field),
    "languages": lambda f: f.langs,
    "finnish_support": lambda f: f.finnish,
    "region": lambda f: (f.region, f.remote),
    "topics": lambda f: f.topics,
    "availability": lambda f: f.availability,
}
_TABLES: dict[str, Callable[[Any, Any], Floats]] = {
    "field": _field_table,
    "education": _education_table,
    "languages": _languages_table,
    "finnish_support": _finnish_table,
    "region": _region_table,
    "topics": _topics_table,
    "availability": _availability_table,
}


def _distinct(
    features: Sequence[_Features], key: Callable[[_Features], Hashable]
) -> tuple[list[Hashable], Int64s]:
    index: dict[Hashable, int] = {}
    codes = np.fromiter(
        (index.setdefault(key(f), len(index)) for f in features),
        dtype=np.int64,
        count=len(features),
    )
    return list(index), codes


@dataclass(frozen=True)
class _Group:
    """A look-up table of the summed integer contributions of some components."""

    table: Int32s  # distinct mentee keys x distinct mentor keys
    mentee_key: Int64s  # per mentee (all mentees of the cohort)
    mentor_key: Int64s  # per mentor


class _Scorer:
    """Integer scores of any mentee x mentor block by a few table look-ups per pair.

    Each component's value depends on a small key of each side (the ISCO code, the set of
    topics...). Its integer contribution round(share * value) is tabulated over the distinct
    keys, and components are merged into one table while the table stays small, so a pair
    costs one look-up per merged table (usually 2-3).
    """

    def __init__(
        self, mentees: Sequence[_Features], mentors: Sequence[_Features], shares: Sequence[int]
    ):
        parts: list[tuple[int, Int32s, Int64s, Int64s]] = []
        for k, name in enumerate(COMPONENTS):
            if shares[k] == 0:
                continue
            keys_e, codes_e = _distinct(mentees, _KEYS[name])
            keys_r, codes_r = _distinct(mentors, _KEYS[name])
            values = _TABLES[name](keys_e, keys_r)
            table = np.rint(shares[k] * values).astype(np.int32)
            parts.append((len(keys_e) * len(keys_r), table, codes_e, codes_r))
        parts.sort(key=lambda part: part[0])
        # a merged table pays only while it is much smaller than the pairs it serves
        limit = min(_TABLE_LIMIT, max(1 << 12, len(mentees) * len(mentors) // 16))
        self.groups: list[_Group] = []
        current: list[tuple[Int32s, Int64s, Int64s]] = []
        size = 0  # an upper bound of the current group's table size
        for part_size, table, codes_e, codes_r in parts:
            if current and size * part_size > limit:
                size = self._size([*current, (table, codes_e, codes_r)])
                if size > limit:
                    self.groups.append(self._merge(current))
                    current, size = [], part_size
                current.append((table, codes_e, codes_r))
            else:
                current.append((table, codes_e, codes_r))
                size = size * part_size if size else part_size
        if current:
            self.groups.append(self._merge(current))

    @staticmethod
    def _combined(codes: list[Int64s]) -> tuple[Int64s, Int64s]:
        """Distinct combinations of per-person codes: (combinations x codes, index per person)."""
        inverse = codes[0]
        for more in codes[1:]:
            _, inverse = np.unique(
                inverse * (int(more.max(initial=0)) + 1) + more, return_inverse=True
            )
        _, first, inverse = np.unique(inverse, return_index=True, return_inverse=True)
        unique = np.stack([c[first] for c in codes], axis=1)
        return np.asarray(unique, dtype=np.int64), np.asarray(inverse, dtype=np.int64).ravel()

    def _size(self, parts: list[tuple[Int32s, Int64s, Int64s]]) -> int:
        ue, _ = self._combined([codes_e for _, codes_e, _ in parts])
        ur, _ = self._combined([codes_r for _, _, codes_r in parts])
        return len(ue) * len(ur)

    def _merge(self, parts: list[tuple[Int32s, Int64s, Int64s]]) -> _Group:
        if len(parts) == 1:
            return _Group(*parts[0])
        ue, inv_e = self._combined([codes_e for _, codes_e, _ in parts])
        ur, inv_r = self._combined([codes_r for _, _, codes_r in parts])
        table = np.zeros((len(ue), len(ur)), dtype=np.int32)
        for k, (part, _, _) in enumerate(parts):
            table += part[ue[:, k][:, None], ur[:, k][None, :]]
        return _Group(table, inv_e, inv_r)

    def fill(self, rows: Int64s, columns: list[Int64s], out: Int32s) -> None:
        """out[a, b] = score units of (mentee rows[a], mentor b); columns from `columns_for`."""
        buffer = np.empty_like(out) if len(self.groups) > 1 else out
        for g, (group, cols) in enumerate(zip(self.groups, columns, strict=True)):
            sub = group.table[group.mentee_key[rows]]
            np.take(sub, cols, axis=1, out=out if g == 0 else buffer, mode="clip")
            if g:
                out += buffer
        if not self.groups:
            out[...] = 0

    def columns_for(self, mentors: Int64s) -> list[Int64s]:
        return [group.mentor_key[mentors] for group in self.groups]


# --- the exact assignment of one block ---------------------------------------------------


_JITTER_BITS = 10
_JITTER_ROWS = 61


def _jitter(m: int) -> Int32s:
    """A fixed pseudo-random tie-breaker in [0, 2**_JITTER_BITS) per (row % 61, column)."""
    p = np.arange(1, _JITTER_ROWS + 1, dtype=np.uint64)[:, None]
    j = np.arange(m, dtype=np.uint64)[None, :]
    mixed = (p * np.uint64(0x9E3779B1) + j * np.uint64(0x85EBCA6B)) * np.uint64(0xC2B2AE35)
    return np.asarray((mixed >> np.uint64(40)) & np.uint64((1 << _JITTER_BITS) - 1), np.int32)


_T = TypeVar("_T")


def _map(
    pool: ThreadPoolExecutor, work: Callable[[int, int], _T], spans: list[tuple[int, int]]
) -> list[_T]:
    """work(lo, hi) for each span, in order; on the pool's threads when there are several."""
    if len(spans) <= 1:
        return [work(lo, hi) for lo, hi in spans]
    return list(pool.map(lambda span: work(*span), spans))


def _chunks(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    step = max(8, (1 << 19) // max(1, n_cols))
    return [(lo, min(n_rows, lo + step)) for lo in range(0, n_rows, step)]


@dataclass
class _Block:
    """One ISCO major group: its mentees x its mentors with places left. Its score matrix is
    never stored: it is recomputed chunk by chunk (a few table look-ups per pair), which costs
    less than holding and first touching n x m integers."""

    scorer: _Scorer
    rows: Int64s  # global mentee indices
    cols: Int64s  # global mentor indices
    cap: Int64s  # places left per column
    forbidden_rows: Int64s  # local (row, col) of pairs a hard rule forbids, sorted by row
    forbidden_cols: Int64s

    def __post_init__(self) -> None:
        self.columns = self.scorer.columns_for(self.cols)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    def scores(self, lo: int, hi: int) -> Int32s:
        """Scores of local rows lo..hi-1, _FORBIDDEN where a hard rule forbids the pair."""
        return self.scores_of(np.arange(lo, hi, dtype=np.int64))

    def scores_of(self, local: Int64s) -> Int32s:
        """Scores of the given local rows (sorted), _FORBIDDEN where a rule forbids the pair."""
        out = np.empty((len(local), len(self.cols)), dtype=np.int32)
        self.scorer.fill(self.rows[local], self.columns, out)
        start = np.searchsorted(self.forbidden_rows, local, "left")
        counts = np.searchsorted(self.forbidden_rows, local, "right") - start
        if counts.any():
            at = _ranges(start, counts)
            out[np.repeat(np.arange(len(local)), counts), self.forbidden_cols[at]] = _FORBIDDEN
        return out

    def row_scores(self, row: int) -> Int32s:
        return np.asarray(self.scores(row, row + 1)[0], dtype=np.int32)


def _ranges(start: Int64s, counts: Int64s) -> Int64s:
    """Concatenated start[k] .. start[k] + counts[k] - 1."""
    total = int(counts.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.asarray(np.repeat(start, counts) + offsets, dtype=np.int64)


def _triples(found: list[tuple[Int64s, Int64s, Int64s]]) -> tuple[Int64s, Int64s, Int64s]:
    if not found:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    return (
        np.concatenate([r for r, _, _ in found]),
        np.concatenate([c for _, c, _ in found]),
        np.concatenate([v for _, _, v in found]),
    )


def _pick(block: _Block, k: int, pool: ThreadPoolExecutor) -> tuple[Int64s, Int64s, Int64s, Int64s]:
    """About the k best allowed mentors of each row: (rows, columns, scores), and for each
    row an upper bound of the scores of the mentors left out (-1 if none is)."""
    n, m = block.shape
    sample = np.unique(np.linspace(0, m - 1, num=min(m, 512)).astype(np.int64))
    rank = max(1, math.ceil(len(sample) * k / m)) if m else 1
    jitter = _jitter(m)

    def work(lo: int, hi: int) -> tuple[Int64s, Int64s, Int64s, Int64s]:
        chunk = block.scores(lo, hi)
        rest = np.full(hi - lo, -1, dtype=np.int64)
        if k >= m:
            r, c = np.nonzero(chunk >= 0)
        else:
            # keys with a pseudo-random tie-breaker in the low bits, so that equal mentees do
            # not all queue for the same few equal mentors; above the rank-th best key of a
            # fixed sample of columns; rows where that is too many get an exact top k
            keys = np.left_shift(chunk, _JITTER_BITS)
            keys |= jitter[np.arange(lo, hi) % len(jitter)]
            threshold = np.partition(keys[:, sample], len(sample) - rank, axis=1)
            floor = np.maximum(threshold[:, len(sample) - rank], 0)
            mask = keys >= floor[:, None]
            rest = np.right_shift(floor, _JITTER_BITS).astype(np.int64)  # keys below floor
            heavy = np.flatnonzero(mask.sum(axis=1) > 4 * k)
            mask[heavy] = False
            r, c = np.nonzero(mask)
            if len(heavy):
                top = np.argpartition(keys[heavy], m - k, axis=1)[:, m - k :]
                hr, hc = np.repeat(heavy, k), top.ravel()
                rest[heavy] = np.right_shift(keys[hr, hc].reshape(-1, k).min(axis=1), _JITTER_BITS)
                keep = chunk[hr, hc] >= 0
                r, c = np.concatenate([r, hr[keep]]), np.concatenate([c, hc[keep]])
        values = chunk[r, c].astype(np.int64)
        return np.asarray(r + lo, dtype=np.int64), np.asarray(c, dtype=np.int64), values, rest

    found = _map(pool, work, _chunks(n, m))
    er, ec, es = _triples([(r, c, v) for r, c, v, _ in found])
    rest = np.concatenate([b for _, _, _, b in found]) if found else np.empty(0, np.int64)
    return er, ec, es, rest


def _assign(n: int, cap: Int64s, er: Int64s, ec: Int64s, ew: Floats) -> Int64s:
    """Exact optimum of the sparse problem: mentor (column) of each row, or -1."""
    m = len(cap)
    total = int(cap.sum())
    slot_start = np.concatenate([[0], np.cumsum(cap)[:-1]]).astype(np.int64)
    reps = cap[ec]
    n_copies = int(reps.sum())
    offsets = np.arange(n_copies, dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
    big = float(ew.max()) + 1.0 if len(ew) else 1.0
    rows = np.concatenate([np.repeat(er, reps), np.arange(n, dtype=np.int64)])
    cols = np.concatenate([np.repeat(slot_start[ec], reps) + offsets, total + np.arange(n)])
    costs = np.concatenate([big - np.repeat(ew, reps), np.full(n, big)])
    graph = csr_array((costs, (rows, cols)), shape=(n, total + n))
    r, c = min_weight_full_bipartite_matching(graph)
    r = np.asarray(r, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    owner = np.repeat(np.arange(m, dtype=np.int64), cap)
    mentor_of = np.full(n, -1, dtype=np.int64)
    real = c < total
    mentor_of[r[real]] = owner[c[real]]
    return mentor_of


def _potentials(
    n: int, cap: Int64s, er: Int64s, ec: Int64s, ew: Floats, mentor_of: Int64s
) -> tuple[Floats, int]:
    """Shortest distances from the sink in the residual graph of the min-cost flow
    (source -> mentee -> mentor -> sink, or mentee -> sink for "unmatched"; an arc mentee ->
    mentor costs -weight). Nodes: mentees 0..n-1, mentors n..n+m-1, sink n+m. Bellman-Ford,
    all arcs relaxed at once per round, stopping when nothing changes. Raises if there is a
    negative cycle (the flow was not optimal: a solver bug)."""
    m = len(cap)
    sink = n + m
    matched = mentor_of >= 0
    mi = np.flatnonzero(matched)
    ui = np.flatnonzero(~matched)
    load = np.bincount(mentor_of[mi], minlength=m)
    free = np.flatnonzero(load < cap)
    used = np.flatnonzero(load > 0)
    on = mentor_of[er] == ec
    off = ~on
    src = np.concatenate(
        [er[off], n + ec[on], mi, np.full(len(ui), sink), n + free, np.full(len(used), sink)]
    )
    dst = np.concatenate(
        [n + ec[off], er[on], np.full(len(mi), sink), ui, np.full(len(free), sink), n + used]
    )
    cost = np.concatenate([-ew[off], ew[on], np.zeros(len(mi) + len(ui) + len(free) + len(used))])
    order = np.argsort(dst, kind="stable")
    src, dst, cost = src[order], dst[order], cost[order]
    starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]]) if len(dst) else np.empty(0, np.int64)
    targets = dst[starts]
    dist = np.full(n + m + 1, np.inf)
    dist[sink] = 0.0
    rounds = 0
    while len(starts):
        rounds += 1
        if rounds > n + m + 2:
            raise RuntimeError("matching: negative cycle in the residual graph (solver bug)")
        best = np.minimum.reduceat(dist[src] + cost, starts)
        better = best < dist[targets]
        if not better.any():
            break
        dist[targets[better]] = best[better]
    if np.isinf(dist[:n]).any():
        raise RuntimeError("matching: a mentee the sink does not reach (solver bug)")
    # A mentor with no mentee yet has one arc out, to the sink (cost 0), so any potential in
    # [0, its distance] keeps every arc feasible; 0 is the strongest for the certificate (and
    # covers mentors no arc reaches). Other mentors are reached from the sink at cost 0.
    dist[n : n + m] = np.minimum(dist[n : n + m], 0.0)
    return dist, rounds


def _violations(
    block: _Block,
    rest: Int64s,
    mentor_of: Int64s,
    dist: Floats,
    offset: int,
    limit: int,
    pool: ThreadPoolExecutor,
) -> tuple[Int64s, Int64s, Int64s]:
    """Rows with pairs outside the sparse problem of weight > d[i] - d[j] (they could improve
    it), and for those rows up to `limit` pairs each of weight > d[i] - d[j] - _SLACK, the
    most violating first, ties broken per row: (rows, columns, scores). Near-violators cut the
    number of rounds; any choice is correct, since the next round checks every pair again.

    Every d[j] <= 0 (see _potentials) and `rest` bounds the scores of the pairs a row had left
    out of the sparse problem at the start (the set only grows), so a row with
    rest <= d[i] - offset cannot violate: only the other rows are scored again."""
    n, m = block.shape
    d_row = dist[:n] - offset  # weight = score + offset
    d_col = dist[n : n + m]
    if len(d_col) and d_col.max() > 0:
        raise RuntimeError("matching: a mentor potential above 0 (solver bug)")
    suspects = np.flatnonzero(rest > d_row)
    jitter = _jitter(m).astype(np.float64) / (1 << (_JITTER_BITS + 1))  # < 1: orders ties

    def work(lo: int, hi: int) -> tuple[Int64s, Int64s, Int64s]:
        local = suspects[lo:hi]
        chunk = block.scores_of(local)
        gap = chunk + d_col[None, :]  # float64: score + d[j], exact integers
        matched = mentor_of[local] >= 0
        gap[np.flatnonzero(matched), mentor_of[local][matched]] = -np.inf
        gap[chunk < 0] = -np.inf
        bad = np.flatnonzero(gap.max(axis=1) > d_row[local])
        if not len(bad):
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        sub = gap[bad]
        over = sub > d_row[local[bad]][:, None] - _SLACK
        many = over.sum(axis=1) > limit
        r, c = np.nonzero(over[~many])
        r = np.flatnonzero(~many)[r]
        if many.any():
            rows_many = np.flatnonzero(many)
            ranked = sub[rows_many] + jitter[local[bad[rows_many]] % len(jitter)]
            top = np.argpartition(ranked, m - limit, axis=1)[:, m - limit :]
            r = np.concatenate([r, np.repeat(rows_many, limit)])
            c = np.concatenate([c, top.ravel()])
        values = chunk[bad[r], c].astype(np.int64)
        return np.asarray(local[bad[r]], dtype=np.int64), np.asarray(c, dtype=np.int64), values

    return _triples(_map(pool, work, _chunks(len(suspects), m)))


def _solve_block(
    block: _Block,
    mode: Mode,
    k: int,
    pool: ThreadPoolExecutor,
    stats: dict[str, float],
) -> tuple[Int64s, Int64s]:
    """Mentor column of each row of the block (or -1), and the pair's score (units)."""
    t0 = time.perf_counter()
    er, ec, es, rest = _pick(block, k, pool)
    stats["score_seconds"] += time.perf_counter() - t0
    n, m = block.shape
    pairs_max = min(n, int(block.cap.sum()))
    offset = SCALE * pairs_max + 1 if mode is Mode.MOST_MATCHED else 0
    if (SCALE + offset) * (n + m + 2) * 4 >= _MAX_EXACT:
        raise ValueError("matching: cohort too large for exact float64 weights")
    while True:
        stats["rounds"] += 1
        t1 = time.perf_counter()
        ew = es.astype(np.float64) + offset
        mentor_of = _assign(n, block.cap, er, ec, ew)
        t2 = time.perf_counter()
        dist, _ = _potentials(n, block.cap, er, ec, ew, mentor_of)
        vr, vc, vs = _violations(block, rest, mentor_of, dist, offset, k, pool)
        stats["checked_rows"] += float(np.count_nonzero(rest > dist[:n] - offset))
        t3 = time.perf_counter()
        stats["assign_seconds"] += t2 - t1
        stats["certify_seconds"] += t3 - t2
        stats["edges"] = max(stats["edges"], float(len(er)))
        if not len(vr):
            break
        keys, first = np.unique(np.concatenate([er * m + ec, vr * m + vc]), return_index=True)
        er, ec, es = keys // m, keys % m, np.concatenate([es, vs])[first]
    score_of = np.full(n, -1, dtype=np.int64)
    on = mentor_of[er] == ec
    score_of[er[on]] = es[on]
    if mode is Mode.BEST_TOTAL_FIT:
        _fill_zero_score_places(block, mentor_of, score_of)
    return mentor_of, score_of


def _fill_zero_score_places(block: _Block, mentor_of: Int64s, score_of: Int64s) -> None:
    """BEST_TOTAL_FIT: a mentee left out while an allowed mentor has a place can only be one
    whose pairs all score 0 (else the total would grow); give her such a place (ties broken
    by order) so that an unmatched mentee always means the places were taken."""
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=len(block.cap))
    for row in np.flatnonzero(mentor_of < 0):
        line = block.row_scores(int(row))
        open_ = np.flatnonzero((line >= 0) & (load < block.cap))
        if len(open_):
            mentor_of[row], score_of[row] = open_[0], line[open_[0]]
            load[open_[0]] += 1


# --- the proposal ---------------------------------------------------------------------------


def _check_unique(kind: str, ids: Iterable[PersonId]) -> None:
    seen: set[PersonId] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{kind} {value} appears twice")
        seen.add(value)


def propose(
    mentees: Iterable[Mentee],
    mentors: Iterable[Mentor],
    *,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
    mode: Mode = Mode.BEST_TOTAL_FIT,
    candidates: int = DEFAULT_CANDIDATES,
    workers: int | None = None,
    stats: dict[str, float] | None = None,
) -> Proposal:
    """Pairs for the whole cohort at the exact optimum of `mode`, with reasons.

    `candidates` and `workers` (threads for the matrix work; default min(4, CPUs)) change
    only the speed. `stats`, if given, receives timings (seconds) and counters.

    The cyclic garbage collector is paused meanwhile (the objects made here hold no cycles;
    with a large cohort alive, its passes would otherwise cost more than the explanations).
    """
    with collector_paused():
        return _propose(
            mentees,
            mentors,
            weights=weights,
            constraints=constraints,
            mode=mode,
            candidates=candidates,
            workers=workers,
            stats=stats,
        )


def _propose(
    mentees: Iterable[Mentee],
    mentors: Iterable[Mentor],
    *,
    weights: Weights | None = None,
    constraints: Constraints | None = None,
    mode: Mode = Mode.BEST_TOTAL_FIT,
    candidates: int = DEFAULT_CANDIDATES,
    workers: int | None = None,
    stats: dict[str, float] | None = None,
) -> Proposal:
    started = time.perf_counter()
    weights = weights or Weights()
    constraints = constraints or Constraints()
    if candidates < 1:
        raise ValueError("candidates must be >= 1")
    if workers is not None and workers < 1:
        raise ValueError("workers must be >= 1")
    mentee_list = sorted(mentees, key=lambda x: _id_key(x.id))
    mentor_list = sorted(mentors, key=lambda x: _id_key(x.id))
    _check_unique("mentee", (x.id for x in mentee_list))
    _check_unique("mentor", (x.id for x in mentor_list))
    timings: dict[str, float] = defaultdict(float)

    fe = [_Features.of(x.profile) for x in mentee_list]
    fr = [_Features.of(x.profile) for x in mentor_list]
    e_index = {x.id: i for i, x in enumerate(mentee_list)}
    r_index = {x.id: j for j, x in enumerate(mentor_list)}
    shares = weights.shares()
    locked = _check_locks(mentee_list, mentor_list, fe, fr, e_index, r_index, constraints)
    places = np.array([x.capacity for x in mentor_list], dtype=np.int64)
    for _, j in locked.items():
        places[j] -= 1

    # hard rules as arrays: allowed pairs share the major group, differ in employer and are
    # not excluded (excluded pairs as indices; pairs of unknown people cannot be made anyway)
    employers: dict[str, int] = {}
    emp_e = np.array(
        [
            -1 if f.employer is None else employers.setdefault(f.employer, len(employers))
            for f in fe
        ],
        dtype=np.int64,
    )
    emp_r = np.array(
        [
            -1 if f.employer is None else employers.setdefault(f.employer, len(employers))
            for f in fr
        ],
        dtype=np.int64,
    )
    excluded: dict[int, set[int]] = defaultdict(set)
    for mentee_id, mentor_id in constraints.excluded:
        if mentee_id in e_index and mentor_id in r_index:
            excluded[e_index[mentee_id]].add(r_index[mentor_id])
    timings["prepare_seconds"] = time.perf_counter() - started

    t0 = time.perf_counter()
    scorer = _Scorer(fe, fr, shares)
    timings["tables_seconds"] = time.perf_counter() - t0
    mentor_of = np.full(len(fe), -1, dtype=np.int64)
    score_of = np.zeros(len(fe), dtype=np.int64)
    majors_e: dict[str, list[int]] = defaultdict(list)
    majors_r: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(fe):
        if i not in locked:
            majors_e[f.major].append(i)
    for j, f in enumerate(fr):
        majors_r[f.major].append(j)
    n_workers = workers or min(4, os.cpu_count() or 1)
    for key in ("score_seconds", "assign_seconds", "certify_seconds", "rounds", "edges"):
        timings[key] = 0.0
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for major in sorted(majors_e):
            rows = np.array(majors_e[major], dtype=np.int64)
            cols = np.array([j for j in majors_r.get(major, ()) if places[j] > 0], dtype=np.int64)
            if not len(cols):
                continue
            f_rows, f_cols = _forbidden_pairs(rows, cols, emp_e, emp_r, excluded)
            block = _Block(scorer, rows, cols, places[cols], f_rows, f_cols)
            chosen, chosen_units = _solve_block(block, mode, candidates, pool, timings)
            hit = chosen >= 0
            mentor_of[rows[hit]] = cols[chosen[hit]]
            score_of[rows[hit]] = chosen_units[hit]

        t0 = time.perf_counter()
        capacity = np.array([x.capacity for x in mentor_list], dtype=np.int64)
        load = np.bincount(mentor_of[mentor_of >= 0], minlength=len(fr)) + (capacity - places)
        pairs: list[ProposedPair] = []
        total_units = 0
        for i, x in enumerate(mentee_list):
            if i in locked:
                j = locked[i]
                values, reasons = _details(fe[i], fr[j])
                units = _score_units(values, shares)
            elif mentor_of[i] >= 0:
                j = int(mentor_of[i])
                values, reasons = _details(fe[i], fr[j])
                units = int(score_of[i])
            else:
                continue
            total_units += units
            pairs.append(
                ProposedPair(
                    mentee_id=x.id,
                    mentor_id=mentor_list[j].id,
                    score=units / SCALE,
                    components=values,
                    reasons=reasons,
                    locked=i in locked,
                )
            )
        left = np.array(
            [i for i in range(len(fe)) if i not in locked and mentor_of[i] < 0], dtype=np.int64
        )
        unmatched = _unmatched(
            left, mentee_list, mentor_list, fe, fr, scorer, emp_e, emp_r, excluded, load, pool
        )
        timings["explain_seconds"] = time.perf_counter() - t0

    timings["total_seconds"] = time.perf_counter() - started
    if stats is not None:
        stats.update(timings)
    return Proposal(
        pairs=tuple(pairs),
        unmatched=tuple(unmatched),
        total_score=total_units / SCALE,
        mode=mode,
    )


def _forbidden_pairs(
    rows: Int64s, cols: Int64s, emp_e: Int64s, emp_r: Int64s, excluded: dict[int, set[int]]
) -> tuple[Int64s, Int64s]:
    """Local (row, column) pairs of a block that share an employer or are excluded, sorted."""
    emp_rows, emp_cols = emp_e[rows], emp_r[cols]
    order = np.argsort(emp_cols, kind="stable")
    by_employer = emp_cols[order]
    first = np.searchsorted(by_employer, emp_rows, "left")
    counts = np.where(emp_rows >= 0, np.searchsorted(by_employer, emp_rows, "right") - first, 0)
    r = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    c = order[np.repeat(first, counts) + offsets]
    if excluded:
        local_col = {int(j): b for b, j in enumerate(cols)}
        extra = sorted(
            (a, local_col[j])
            for a, i in enumerate(rows.tolist())
            for j in excluded.get(i, ())
            if j in local_col
        )
        if extra:
            r = np.concatenate([r, np.array([a for a, _ in extra], dtype=np.int64)])
            c = np.concatenate([c, np.array([b for _, b in extra], dtype=np.int64)])
            order = np.argsort(r, kind="stable")
            r, c = r[order], c[order]
    return r, c  # sorted by row (a pair may appear twice: harmless)


def _check_locks(
    mentees: Sequence[Mentee],
    mentors: Sequence[Mentor],
    fe: Sequence[_Features],
    fr: Sequence[_Features],
    e_index: dict[PersonId, int],
    r_index: dict[PersonId, int],
    constraints: Constraints,
) -> dict[int, int]:
    """Locked mentee index -> mentor index; LockConflict for a lock that breaks a rule."""
    locked: dict[int, int] = {}
    taken = [0] * len(mentors)
    for pair in sorted(constraints.locked, key=lambda p: (_id_key(p[0]), _id_key(p[1]))):
        mentee_id, mentor_id = pair
        if mentee_id not in e_index:
            raise LockConflict(pair, "unknown_mentee", "the mentee is not in this cohort")
        if mentor_id not in r_index:
            raise LockConflict(pair, "unknown_mentor", "the mentor is not available in this cohort")
        i, j = e_index[mentee_id], r_index[mentor_id]
        if i in locked:
            other = mentors[locked[i]].id
            raise LockConflict(pair, "mentee_locked_twice", f"the mentee is also locked to {other}")
        rule = _rule(fe[i], fr[j], excluded=pair in constraints.excluded)
        if rule is not None:
            detail = {
                "different_field": "they do not share an ISCO major group",
                "same_employer": "they share an employer",
                "excluded": "the pair is also excluded",
            }[rule]
            raise LockConflict(pair, rule, detail)
        taken[j] += 1
        if taken[j] > mentors[j].capacity:
            raise LockConflict(
                pair,
                "capacity",
                f"the mentor has {mentors[j].capacity} place(s) and more locked pairs",
            )
        locked[i] = j
    return locked


def _unmatched(
    left: Int64s,
    mentees: Sequence[Mentee],
    mentors: Sequence[Mentor],
    fe: Sequence[_Features],
    fr: Sequence[_Features],
    scorer: _Scorer,
    emp_e: Int64s,
    emp_r: Int64s,
    excluded: dict[int, set[int]],
    load: Int64s,
    pool: ThreadPoolExecutor,
) -> list[Unmatched]:
    """Why each mentee in `left` has no mentor, and her 3 nearest mentors."""
    if not len(left):
        return []
    capacity = np.array([x.capacity for x in mentors], dtype=np.int64)
    in_field: dict[str, int] = defaultdict(int)
    same_employer: dict[tuple[str, int], int] = defaultdict(int)
    for j, f in enumerate(fr):
        in_field[f.major] += 1
        if emp_r[j] >= 0:
            same_employer[(f.major, int(emp_r[j]))] += 1
    columns = scorer.columns_for(np.arange(len(mentors), dtype=np.int64))

    def nearest_of(lo: int, hi: int) -> list[list[tuple[int, int]]]:
        block = np.empty((hi - lo, len(mentors)), dtype=np.int32)
        scorer.fill(left[lo:hi], columns, block)
        out: list[list[tuple[int, int]]] = []
        for line in block:
            top = min(3, len(line))
            if top == 0:
                out.append([])
                continue
            threshold = np.partition(line, len(line) - top)[len(line) - top]
            above = np.flatnonzero(line > threshold)
            ties = np.flatnonzero(line == threshold)[: top - len(above)]
            picked = np.concatenate([above, ties])
            order = np.lexsort((picked, -line[picked].astype(np.int64)))
            out.append([(int(picked[o]), int(line[picked[o]])) for o in order])
        return out

    nearest: list[list[tuple[int, int]]] = []
    for part in _map(pool, nearest_of, _chunks(len(left), len(mentors))):
        nearest.extend(part)

    result: list[Unmatched] = []
    for i, near in zip(left.tolist(), nearest, strict=True):
        f = fe[i]
        mentors_in_field = in_field.get(f.major, 0)
        employer = int(emp_e[i])
        shared = same_employer.get((f.major, employer), 0) if employer >= 0 else 0
        excluded_only = sum(
            1
            for j in excluded.get(i, ())
            if fr[j].major == f.major and not (employer >= 0 and emp_r[j] == employer)
        )
        if mentors_in_field == 0:
            reason = Reason("no_mentor_in_field", {"isco_major": f.major})
        elif shared + excluded_only >= mentors_in_field:
            reason = Reason(
                "only_conflicts",
                {"mentors": mentors_in_field, "same_employer": shared, "excluded": excluded_only},
            )
        else:
            reason = Reason(
                "capacity_taken", {"mentors": mentors_in_field - shared - excluded_only}
            )
        candidates = []
        for j, units in near:
            broken = _rule(f, fr[j], excluded=j in excluded.get(i, ()))
            why = broken if broken is not None else "capacity_taken"
            if broken is None and load[j] < capacity[j]:
                why = "not_chosen"  # cannot happen at the optimum; kept honest if it did
            candidates.append(Candidate(mentors[j].id, units / SCALE, why))
        result.append(Unmatched(mentees[i].id, (reason,), tuple(candidates)))
    return result


def score_matrix(
    mentees: Sequence[Mentee],
    mentors: Sequence[Mentor],
    weights: Weights | None = None,
    constraints: Constraints | None = None,
) -> tuple[Int32s, Bools]:
    """Dense scores (units of 1/SCALE) and allowed mask of mentees x mentors, in the given
    order, as `propose` sees them. For tests and benchmarks: n x m memory."""
    shares = (weights or Weights()).shares()
    excluded = (constraints or Constraints()).excluded
    fe = [_Features.of(x.profile) for x in mentees]
    fr = [_Features.of(x.profile) for x in mentors]
    scorer = _Scorer(fe, fr, shares)
    scores = np.empty((len(fe), len(fr)), dtype=np.int32)
    if len(fe) and len(fr):
        scorer.fill(np.arange(len(fe)), scorer.columns_for(np.arange(len(fr))), scores)
    major_e = np.array([ord(f.major) for f in fe], dtype=np.int64)
    major_r = np.array([ord(f.major) for f in fr], dtype=np.int64)
    allowed = major_e[:, None] == major_r[None, :]
    employer: dict[str, list[int]] = defaultdict(list)
    for j, f in enumerate(fr):
        if f.employer is not None:
            employer[f.employer].append(j)
    for i, f in enumerate(fe):
        if f.employer is not None:
            for j in employer.get(f.employer, ()):
                allowed[i, j] = False
    e_pos = {x.id: i for i, x in enumerate(mentees)}
    r_pos = {x.id: j for j, x in enumerate(mentors)}
    for mentee_id, mentor_id in excluded:
        if mentee_id in e_pos and mentor_id in r_pos:
            allowed[e_pos[mentee_id], r_pos[mentor_id]] = False
    return scores, allowed
