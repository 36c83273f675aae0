"""Property-based tests of whole-cohort matching on small random cohorts (hypothesis).

The reference is a brute force: a depth-first search that visits every valid assignment of
the mentees not locked (each takes an allowed mentor with a place left, or none) and keeps
the best by the mode's order. With at most 6 mentees and 5 mentors that is at most 6**6
assignments, so it is exhaustive and needs no cleverness. (Empty cohorts are in
test_matching_domain.py.)
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.domain import (
    SCALE,
    Constraints,
    Mentee,
    Mentor,
    Mode,
    Proposal,
    Weights,
    hard_rule,
    propose,
    score,
)
from shared.events import Cefr, LanguageSkill, MatchingProfile, Role

SETTINGS = settings(max_examples=150, deadline=None)
ISCO = ["2142", "2146", "2151", "2511", "2", "3112", "3113"]
TOPICS = ["cv", "network", "interview", "sector"]
SLOTS = ["weekday_daytime", "weekday_evening", "weekend"]


def profiles(role: Role) -> st.SearchStrategy[MatchingProfile]:
    languages = st.dictionaries(
        st.sampled_from(["fi", "en", "ar", "ru"]), st.sampled_from(list(Cefr))
    )
    return st.builds(
        MatchingProfile,
        role=st.just(role),
        isco_code=st.sampled_from(ISCO),
        education_level=st.integers(5, 8),
        education_field=st.sampled_from([None, "0732", "0714", "0411"]),
        languages=languages.map(
            lambda d: tuple(LanguageSkill(language=k, level=v) for k, v in d.items())
        ),
        region=st.sampled_from([None, "01", "02"]),
        remote_ok=st.booleans(),
        topics=st.lists(st.sampled_from(TOPICS), unique=True, max_size=3).map(tuple),
        availability=st.lists(st.sampled_from(SLOTS), unique=True, max_size=3).map(tuple),
        capacity=st.integers(1, 3),
        employer_key=st.sampled_from([None, None, "k1", "k2"]),
    )


MENTEE_PROFILES = st.lists(profiles(Role.MENTEE), min_size=1, max_size=6)
MENTOR_PROFILES = st.lists(profiles(Role.MENTOR), min_size=1, max_size=5)
PAIR_PICKS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4)), max_size=4)
RAW_WEIGHTS = st.lists(st.just(0.0) | st.floats(0, 10), min_size=7, max_size=7)
CANDIDATES = st.sampled_from([1, 1, 2, 16])  # few candidates: the repair loop must work


@dataclass
class Case:
    mentees: list[Mentee]
    mentors: list[Mentor]
    constraints: Constraints
    weights: Weights
    candidates: int


@st.composite
def cases(draw: st.DrawFn) -> Case:
    mentees = [Mentee(i, p) for i, p in enumerate(draw(MENTEE_PROFILES))]
    mentors = [Mentor(100 + j, p) for j, p in enumerate(draw(MENTOR_PROFILES))]
    n, m = len(mentees), len(mentors)
    excluded: set[tuple[int, int]] = set()
    locked: set[tuple[int, int]] = set()
    if n and m:
        excluded = {(a % n, 100 + b % m) for a, b in draw(PAIR_PICKS)}
        taken: dict[int, int] = {}
        for a, b in draw(PAIR_PICKS)[:3]:
            e, r = mentees[a % n], mentors[b % m]
            free = taken.get(int(r.id), 0) < r.capacity
            if free and e.id not in {x for x, _ in locked}:
                if hard_rule(e, r, Constraints(excluded=excluded)) is None:
                    locked.add((int(e.id), int(r.id)))
                    taken[int(r.id)] = taken.get(int(r.id), 0) + 1
    raw = draw(RAW_WEIGHTS)
    if not any(w > 0 for w in raw):
        raw[0] = 1.0
    return Case(
        mentees,
        mentors,
        Constraints(locked=locked, excluded=excluded),
        Weights(*raw),
        draw(CANDIDATES),
    )


def units(e: Mentee, r: Mentor, weights: Weights) -> int:
    return round(score(e.profile, r.profile, weights) * SCALE)


def brute_force(case: Case, mode: Mode) -> tuple[int, int]:
    """(pairs, total units) of the best valid assignment, by exhaustive search."""
    locked = dict(case.constraints.locked)
    places = {r.id: r.capacity for r in case.mentors}
    count, total = 0, 0
    by_id = {r.id: r for r in case.mentors}
    for e in case.mentees:
        if e.id in locked:
            places[locked[e.id]] -= 1
            count += 1
            total += units(e, by_id[locked[e.id]], case.weights)
    free = [e for e in case.mentees if e.id not in locked]
    options = [
        [
            (r.id, units(e, r, case.weights))
            for r in case.mentors
            if hard_rule(e, r, case.constraints) is None
        ]
        for e in free
    ]

    def key(pairs: int, value: int) -> tuple[int, ...]:
        return (value,) if mode is Mode.BEST_TOTAL_FIT else (pairs, value)

    best = key(count, total)
    best_seen = (count, total)

    def visit(i: int, pairs: int, value: int) -> None:
        nonlocal best, best_seen
        if i == len(free):
            if key(pairs, value) > best:
                best, best_seen = key(pairs, value), (pairs, value)
            return
        visit(i + 1, pairs, value)  # she stays unmatched
        for mentor_id, u in options[i]:
            if places[mentor_id] > 0:
                places[mentor_id] -= 1
                visit(i + 1, pairs + 1, value + u)
                places[mentor_id] += 1

    visit(0, count, total)
    return best_seen


def run(case: Case, mode: Mode) -> Proposal:
    return propose(
        case.mentees,
        case.mentors,
        weights=case.weights,
        constraints=case.constraints,
        mode=mode,
        candidates=case.candidates,
    )


def check_rules(case: Case, p: Proposal) -> None:
    mentees = {e.id: e for e in case.mentees}
    mentors = {r.id: r for r in case.mentors}
    matched = [q.mentee_id for q in p.pairs]
    assert len(matched) == len(set(matched)), "a mentee twice"
    assert sorted(matched + [u.mentee_id for u in p.unmatched]) == sorted(mentees)
    for mentor_id, r in mentors.items():
        assert sum(q.mentor_id == mentor_id for q in p.pairs) <= r.capacity
    made = {(q.mentee_id, q.mentor_id) for q in p.pairs}
    assert case.constraints.locked <= made
    total = 0
    for q in p.pairs:
        e, r = mentees[q.mentee_id], mentors[q.mentor_id]
        assert hard_rule(e, r, case.constraints) is None
        assert q.locked == ((q.mentee_id, q.mentor_id) in case.constraints.locked)
        assert q.score == units(e, r, case.weights) / SCALE
        assert 0.0 <= q.score <= 1.0
        total += units(e, r, case.weights)
    assert p.total_score == total / SCALE


@SETTINGS
@given(cases(), st.sampled_from(list(Mode)))
def test_hard_rules_are_never_broken(case: Case, mode: Mode) -> None:
    check_rules(case, run(case, mode))


@SETTINGS
@given(cases())
def test_best_total_fit_equals_the_brute_force_optimum(case: Case) -> None:
    p = run(case, Mode.BEST_TOTAL_FIT)
    _, best_total = brute_force(case, Mode.BEST_TOTAL_FIT)
    assert round(p.total_score * SCALE) == best_total


@SETTINGS
@given(cases())
def test_most_matched_matches_the_most_then_fits_best(case: Case) -> None:
    p = run(case, Mode.MOST_MATCHED)
    most, best_total = brute_force(case, Mode.MOST_MATCHED)
    assert len(p.pairs) == most  # no valid assignment matches more people
    assert round(p.total_score * SCALE) == best_total  # and the best total among those
    assert len(p.pairs) >= len(run(case, Mode.BEST_TOTAL_FIT).pairs)


@SETTINGS
@given(cases(), st.sampled_from(list(Mode)), st.randoms(use_true_random=False))
def test_same_input_in_any_order_gives_the_same_proposal(
    case: Case, mode: Mode, rnd: random.Random
) -> None:
    first = run(case, mode)
    shuffled = Case(
        list(case.mentees),
        list(case.mentors),
        Constraints(locked=list(case.constraints.locked), excluded=case.constraints.excluded),
        case.weights,
        case.candidates,
    )
    rnd.shuffle(shuffled.mentees)
    rnd.shuffle(shuffled.mentors)
    assert run(shuffled, mode) == first


def nearest(e: Mentee, mentors: Sequence[Mentor], weights: Weights) -> list[tuple[int, int]]:
    ranked = sorted(((units(e, r, weights), r.id) for r in mentors), key=lambda t: (-t[0], t[1]))
    return [(int(i), u) for u, i in ranked[:3]]


@SETTINGS
@given(cases(), st.sampled_from(list(Mode)))
def test_unmatched_reasons_are_true(case: Case, mode: Mode) -> None:
    p = run(case, mode)
    load = {r.id: 0 for r in case.mentors}
    for q in p.pairs:
        load[q.mentor_id] += 1
    for u in p.unmatched:
        e = next(x for x in case.mentees if x.id == u.mentee_id)
        in_field = [r for r in case.mentors if hard_rule(e, r) != "different_field"]
        allowed = [r for r in in_field if hard_rule(e, r, case.constraints) is None]
        (reason,) = u.reasons
        if not in_field:
            assert reason.code == "no_mentor_in_field"
        elif not allowed:
            assert reason.code == "only_conflicts"
            assert reason.params["mentors"] == len(in_field)
        else:
            assert reason.code == "capacity_taken"
            assert reason.params["mentors"] == len(allowed)
            assert all(load[r.id] == r.capacity for r in allowed), "a free place was left"
        assert [(c.mentor_id, round(c.score * SCALE)) for c in u.nearest] == nearest(
            e, case.mentors, case.weights
        )
        for c in u.nearest:
            r = next(x for x in case.mentors if x.id == c.mentor_id)
            rule = hard_rule(e, r, case.constraints)
            assert c.why_not == (rule or "capacity_taken")
