"""Matching's pure domain: components, scores, hard rules, locks, modes, explanations."""

import math
import random
from uuid import UUID

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from services.matching import isco
from services.matching.domain import (
    SCALE,
    Candidate,
    Components,
    Constraints,
    LockConflict,
    Mentee,
    Mentor,
    Mode,
    Reason,
    Weights,
    components,
    explain,
    hard_rule,
    propose,
    score,
    score_matrix,
)
from shared.events import Cefr, LanguageSkill, MatchingProfile, Role

FIELD_ONLY = Weights(
    field=1, education=0, languages=0, finnish_support=0, region=0, topics=0, availability=0
)


def profile(role: Role = Role.MENTEE, **changes: object) -> MatchingProfile:
    values: dict[str, object] = {
        "role": role,
        "isco_code": "2142",
        "education_level": 7,
        "education_field": None,
        "languages": (),
        "region": None,
        "remote_ok": False,
        "topics": (),
        "availability": (),
        "capacity": 1,
        "employer_key": None,
    }
    return MatchingProfile(**(values | changes))


def mentee(id: int | str, **changes: object) -> Mentee:
    return Mentee(id, profile(Role.MENTEE, **changes))


def mentor(id: int | str, capacity: int | None = None, **changes: object) -> Mentor:
    return Mentor(id, profile(Role.MENTOR, **changes), capacity)


def langs(**levels: str) -> tuple[LanguageSkill, ...]:
    return tuple(LanguageSkill(language=k, level=Cefr(v)) for k, v in levels.items())


# --- ISCO hierarchy -----------------------------------------------------------------------


def test_isco_hierarchy_is_positional() -> None:
    assert isco.parents("2142") == ("2", "21", "214", "2142")
    assert isco.major("2142") == "2"
    assert isco.level("214") == "minor"
    assert isco.shared_levels("2142", "2142") == 4
    assert isco.shared_levels("2142", "2146") == 3
    assert isco.shared_levels("2142", "2151") == 2
    assert isco.shared_levels("2142", "2511") == 1
    assert isco.shared_levels("2142", "3112") == 0
    assert isco.shared_levels("21", "2142") == 2
    assert isco.common_group("2142", "2146") == "214"
    assert isco.common_group("2142", "3112") is None
    with pytest.raises(ValueError, match="ISCO"):
        isco.parents("21a")


# --- components and scores -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    [("2142", 1.0), ("2146", 0.75), ("2151", 0.5), ("2511", 0.25), ("3112", 0.0)],
)
def test_field_component_follows_the_isco_hierarchy(code: str, value: float) -> None:
    assert components(profile(), profile(Role.MENTOR, isco_code=code)).field == value


def test_closer_occupation_scores_higher_all_else_equal() -> None:
    e = profile(isco_code="2142")
    ordered = ["2142", "2146", "2151", "2511", "3112"]
    scores = [score(e, profile(Role.MENTOR, isco_code=c)) for c in ordered]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_education_field_and_level() -> None:
    e = profile(education_field="0732", education_level=7)
    same_narrow = profile(Role.MENTOR, education_field="0731", education_level=7)
    same_broad = profile(Role.MENTOR, education_field="0714", education_level=8)
    other = profile(Role.MENTOR, education_field="0411", education_level=6)
    assert components(e, same_narrow).education == 1.0
    assert components(e, same_broad).education == 0.75 * 0.5 + 0.25
    assert components(e, other).education == 0.0
    assert components(profile(), profile(Role.MENTOR)).education == 0.25  # no field, level ok


def test_languages_count_only_shared_non_finnish_at_b1_or_above() -> None:
    e = profile(languages=langs(fi="B1", ar="native", en="B2"))
    assert components(e, profile(Role.MENTOR, languages=langs(ar="B1"))).languages == 1.0
    assert components(e, profile(Role.MENTOR, languages=langs(ar="A2"))).languages == 0.0
    assert components(e, profile(Role.MENTOR, languages=langs(fi="native"))).languages == 0.0
    weak = profile(languages=langs(en="A2"))
    assert components(weak, profile(Role.MENTOR, languages=langs(en="C2"))).languages == 0.0


@pytest.mark.parametrize(
    ("mentee_fi", "mentor_fi", "value"),
    [
        ("B1", "native", 1.0),
        ("A2", "C1", 1.0),
        (None, "C2", 1.0),
        ("A2", "B2", 0.5),
        ("B1", "B2", 0.0),
        ("C1", "native", 0.0),  # she needs no support
        ("B1", None, 0.0),
    ],
)
def test_finnish_support(mentee_fi: str | None, mentor_fi: str | None, value: float) -> None:
    e = profile(languages=langs(fi=mentee_fi) if mentee_fi else ())
    r = profile(Role.MENTOR, languages=langs(fi=mentor_fi) if mentor_fi else ())
    assert components(e, r).finnish_support == value


def test_region_then_remote() -> None:
    e = profile(region="01", remote_ok=True)
    assert components(e, profile(Role.MENTOR, region="01", remote_ok=False)).region == 1.0
    assert components(e, profile(Role.MENTOR, region="06", remote_ok=True)).region == 0.6
    assert components(e, profile(Role.MENTOR, region="06", remote_ok=False)).region == 0.0
    nowhere = profile(region=None, remote_ok=True)
    assert components(nowhere, profile(Role.MENTOR, region=None, remote_ok=True)).region == 0.6


def test_topics_are_a_jaccard_index() -> None:
    e = profile(topics=("cv", "network"))
    assert components(e, profile(Role.MENTOR, topics=("network", "sector"))).topics == 1 / 3
    assert components(e, profile(Role.MENTOR, topics=("cv", "network"))).topics == 1.0
    assert components(profile(), profile(Role.MENTOR)).topics == 0.0


@pytest.mark.parametrize(
    ("mentee_slots", "mentor_slots", "value"),
    [
        (("weekday_evening", "weekend"), ("weekend",), 1.0),
        (("weekday_daytime",), ("weekday_daytime", "weekday_evening"), 1.0),
        (("weekday_daytime",), ("weekday_evening", "weekend"), 0.0),
        ((), ("weekend",), 0.5),  # unknown
        (("weekend",), (), 0.5),
        ((), (), 0.5),
    ],
)
def test_availability_is_a_shared_slot_or_unknown(
    mentee_slots: tuple[str, ...], mentor_slots: tuple[str, ...], value: float
) -> None:
    e = profile(availability=mentee_slots)
    r = profile(Role.MENTOR, availability=mentor_slots)
    assert components(e, r).availability == value


def test_availability_weight_counts_in_the_score() -> None:
    only = Weights(0, 0, 0, 0, 0, 0, availability=1)
    e = profile(availability=("weekday_evening",))
    assert score(e, profile(Role.MENTOR, availability=("weekday_evening",)), only) == 1.0
    assert score(e, profile(Role.MENTOR, availability=()), only) == 0.5
    assert score(e, profile(Role.MENTOR, availability=("weekend",)), only) == 0.0
    # default weights: availability is 1 of 10, so a shared slot adds 0.1 over none shared
    # and unknown lies halfway
    shared, unknown, none = (
        round(score(e, profile(Role.MENTOR, availability=slots)) * SCALE)
        for slots in (("weekday_evening",), (), ("weekend",))
    )
    assert (shared - unknown, unknown - none) == (SCALE // 20, SCALE // 20)


def test_score_is_the_weighted_mean_in_millionths() -> None:
    e = profile(topics=("cv", "network"), region="01")
    r = profile(Role.MENTOR, isco_code="2146", topics=("network",), region="01")
    c = components(e, r)
    w = Weights()
    mean = sum(getattr(w, n) * v for n, v in zip(Components._fields, c, strict=True))
    mean /= sum(w.as_tuple())
    assert abs(score(e, r, w) - mean) <= 3 / SCALE
    assert score(e, r, FIELD_ONLY) == 0.75
    assert sum(w.shares()) == SCALE
    assert 0.0 <= score(e, r) <= 1.0


def test_perfect_pair_scores_one() -> None:
    e = profile(
        education_field="0732",
        languages=langs(fi="A2", ar="native"),
        region="01",
        topics=("cv",),
        availability=("weekend",),
    )
    r = profile(
        Role.MENTOR,
        education_field="0732",
        languages=langs(fi="native", ar="C1"),
        region="01",
        topics=("cv",),
        availability=("weekday_evening", "weekend"),
    )
    assert score(e, r) == 1.0


def test_explanations_are_structured_codes() -> None:
    e = profile(
        isco_code="2142",
        education_field="0732",
        education_level=7,
        languages=langs(fi="A2", ar="native", en="B2"),
        region="01",
        topics=("cv", "network", "interview"),
        availability=("weekend", "weekday_daytime", "weekday_evening"),
    )
    r = profile(
        Role.MENTOR,
        isco_code="2142",
        education_field="0732",
        education_level=8,
        languages=langs(fi="native", ar="B2", en="C1"),
        region="01",
        topics=("network", "cv"),
        availability=("weekend", "weekday_evening"),
    )
    assert explain(e, r) == (
        Reason("same_unit_group", {"isco": "2142"}),
        Reason("same_education_field", {"isced_f": "073"}),
        Reason("mentor_education_level", {"mentor": 8, "mentee": 7}),
        Reason("shared_language", {"language": "ar"}),
        Reason("shared_language", {"language": "en"}),
        Reason("finnish_support", {"level": "native", "mentee_level": "A2"}),
        Reason("same_region", {"region": "01"}),
        Reason("shared_topics", {"topics": ["cv", "network"]}),
        Reason("shared_availability", {"slots": ["weekday_evening", "weekend"]}),
    )
    remote = explain(
        profile(isco_code="2146", remote_ok=True, region="01", availability=("weekend",)),
        profile(Role.MENTOR, remote_ok=True, region="02", education_level=6),
    )
    assert remote == (Reason("same_minor_group", {"isco": "214"}), Reason("both_remote", {}))
    apart = explain(
        profile(availability=("weekday_daytime",)),
        profile(Role.MENTOR, availability=("weekend",)),
    )
    assert not any(reason.code == "shared_availability" for reason in apart)


# --- inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"field": -0.1},
        {"topics": 10.5},
        {"region": math.nan},
        {"languages": math.inf},
        {"availability": -1},
    ],
)
def test_weights_out_of_range_raise_naming_the_weight(bad: dict[str, float]) -> None:
    (name,) = bad
    with pytest.raises(ValueError, match=f"weight {name} must be"):
        Weights(**bad)


def test_weights_must_be_numbers_and_not_all_zero() -> None:
    with pytest.raises(ValueError, match="weight field"):
        Weights(field=True)
    with pytest.raises(ValueError, match="weight education"):
        Weights(education="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        Weights(0, 0, 0, 0, 0, 0, 0)
    assert Weights(0, 0, 0, 0, 0, 10, 0).shares() == (0, 0, 0, 0, 0, SCALE, 0)
    assert Weights(0, 0, 0, 0, 0, 0, 2).shares() == (0, 0, 0, 0, 0, 0, SCALE)
    assert Weights().availability == 1.0


def test_mentor_capacity_defaults_to_the_profile() -> None:
    assert Mentor("m", profile(Role.MENTOR, capacity=3)).capacity == 3
    assert Mentor("m", profile(Role.MENTOR, capacity=3), 1).capacity == 1
    with pytest.raises(ValueError, match="capacity"):
        Mentor("m", profile(Role.MENTOR), 0)
    with pytest.raises(ValueError, match="profile"):
        Mentor("m", profile(Role.MENTEE))
    with pytest.raises(ValueError, match="profile"):
        Mentee("e", profile(Role.MENTOR))


def test_duplicate_ids_raise() -> None:
    with pytest.raises(ValueError, match="twice"):
        propose([mentee(1), mentee(1)], [mentor(9)])
    with pytest.raises(ValueError, match="twice"):
        propose([mentee(1)], [mentor(9), mentor(9)])


def test_hard_rules() -> None:
    e = mentee(1, employer_key="k1")
    assert hard_rule(e, mentor(9, isco_code="3112")) == "different_field"
    assert hard_rule(e, mentor(9, employer_key="k1")) == "same_employer"
    assert hard_rule(e, mentor(9), Constraints(excluded={(1, 9)})) == "excluded"
    assert hard_rule(e, mentor(9, employer_key="k2")) is None
    assert hard_rule(mentee(1), mentor(9)) is None  # a missing key never conflicts


# --- proposals ------------------------------------------------------------------------------


def test_pairs_the_same_occupation_first() -> None:
    mentees = [mentee("a", isco_code="2142"), mentee("b", isco_code="2511")]
    mentors = [mentor("x", isco_code="2512"), mentor("y", isco_code="2141")]
    p = propose(mentees, mentors)
    assert [(q.mentee_id, q.mentor_id) for q in p.pairs] == [("a", "y"), ("b", "x")]
    assert p.unmatched == () and p.mode is Mode.BEST_TOTAL_FIT
    assert p.total_score == sum(q.score for q in p.pairs)
    first = p.pairs[0]
    assert first.components.field == 0.75
    assert first.reasons[0] == ("same_minor_group", {"isco": "214"})
    assert first.score == score(mentees[0].profile, mentors[1].profile)


def test_capacity_is_respected_and_shared() -> None:
    mentees = [mentee(i) for i in range(5)]
    p = propose(mentees, [mentor("x", capacity=2), mentor("y", capacity=2)])
    assert len(p.pairs) == 4 and len(p.unmatched) == 1
    per_mentor = [q.mentor_id for q in p.pairs]
    assert per_mentor.count("x") == 2 and per_mentor.count("y") == 2
    assert p.unmatched[0].reasons == (Reason("capacity_taken", {"mentors": 2}),)
    assert {c.why_not for c in p.unmatched[0].nearest} == {"capacity_taken"}


def test_best_total_fit_versus_most_matched() -> None:
    # a fits x best; b fits only x (she shares y's employer); x has one place
    mentees = [mentee("a", isco_code="2142"), mentee("b", isco_code="2199", employer_key="k")]
    mentors = [mentor("x", isco_code="2142"), mentor("y", isco_code="2511", employer_key="k")]
    best = propose(mentees, mentors, weights=FIELD_ONLY, mode=Mode.BEST_TOTAL_FIT)
    most = propose(mentees, mentors, weights=FIELD_ONLY, mode=Mode.MOST_MATCHED)
    assert [(q.mentee_id, q.mentor_id) for q in best.pairs] == [("a", "x")]
    assert best.total_score == 1.0
    assert best.unmatched[0].mentee_id == "b"
    assert best.unmatched[0].reasons == (Reason("capacity_taken", {"mentors": 1}),)
    assert best.unmatched[0].nearest == (
        Candidate("x", 0.5, "capacity_taken"),
        Candidate("y", 0.25, "same_employer"),
    )
    assert [(q.mentee_id, q.mentor_id) for q in most.pairs] == [("a", "y"), ("b", "x")]
    assert most.total_score == 0.75 and most.mode is Mode.MOST_MATCHED


def test_unmatched_reasons() -> None:
    mentees = [
        mentee("no_field", isco_code="5120"),
        mentee("conflicts", isco_code="3112", employer_key="k"),
        mentee("taken", isco_code="2142"),
        mentee("winner", isco_code="2142", topics=("cv",)),
    ]
    mentors = [
        mentor("m1", isco_code="3113", employer_key="k"),
        mentor("m2", isco_code="3119"),
        mentor("m3", isco_code="2142", topics=("cv",)),
    ]
    p = propose(mentees, mentors, constraints=Constraints(excluded={("conflicts", "m2")}))
    assert [(q.mentee_id, q.mentor_id) for q in p.pairs] == [("winner", "m3")]
    reasons = {u.mentee_id: u.reasons for u in p.unmatched}
    assert reasons["no_field"] == (Reason("no_mentor_in_field", {"isco_major": "5"}),)
    assert reasons["conflicts"] == (
        Reason("only_conflicts", {"mentors": 2, "same_employer": 1, "excluded": 1}),
    )
    assert reasons["taken"] == (Reason("capacity_taken", {"mentors": 1}),)
    nearest = {u.mentee_id: u.nearest for u in p.unmatched}
    assert [c.why_not for c in nearest["conflicts"]] == [
        "same_employer",
        "excluded",
        "different_field",
    ]
    assert [c.mentor_id for c in nearest["conflicts"]] == ["m1", "m2", "m3"]
    assert {c.why_not for c in nearest["no_field"]} == {"different_field"}
    assert all(len(u.nearest) == 3 for u in p.unmatched)
    for u in p.unmatched:
        assert [c.score for c in u.nearest] == sorted((c.score for c in u.nearest), reverse=True)


def test_no_mentors_or_no_mentees() -> None:
    p = propose([mentee(1)], [])
    assert p.pairs == () and p.unmatched[0].reasons[0].code == "no_mentor_in_field"
    assert p.unmatched[0].nearest == ()
    assert propose([], [mentor(9)]) == propose([], [mentor(9)], mode=Mode.BEST_TOTAL_FIT)
    assert propose([], [mentor(9)]).total_score == 0.0


def test_zero_score_pairs_are_still_made_in_best_total_fit() -> None:
    topics_only = Weights(0, 0, 0, 0, 0, topics=1, availability=0)
    p = propose([mentee(1), mentee(2)], [mentor(9, capacity=2)], weights=topics_only)
    assert len(p.pairs) == 2 and p.total_score == 0.0 and p.unmatched == ()


# --- locks and exclusions -------------------------------------------------------------------


def test_locked_pairs_are_forced_and_use_a_place() -> None:
    mentees = [mentee("a", isco_code="2142"), mentee("b", isco_code="2511")]
    mentors = [mentor("x", isco_code="2142"), mentor("y", isco_code="2511")]
    p = propose(mentees, mentors, constraints=Constraints(locked={("a", "y")}))
    pairs = {(q.mentee_id, q.mentor_id): q for q in p.pairs}
    assert set(pairs) == {("a", "y"), ("b", "x")}  # y's one place is taken by the lock
    assert pairs[("a", "y")].locked and pairs[("a", "y")].components.field == 0.25
    assert not pairs[("b", "x")].locked


def test_locked_pair_then_the_rest_is_optimal() -> None:
    mentees = [mentee("a", isco_code="2142"), mentee("b", isco_code="2142")]
    mentors = [mentor("x", isco_code="2142", capacity=1), mentor("y", isco_code="2151")]
    p = propose(mentees, mentors, constraints=Constraints(locked={("b", "y")}))
    assert [(q.mentee_id, q.mentor_id, q.locked) for q in p.pairs] == [
        ("a", "x", False),
        ("b", "y", True),
    ]


def test_excluded_pairs_are_never_made() -> None:
    p = propose(
        [mentee(1)],
        [mentor(9), mentor(8, isco_code="2511")],
        constraints=Constraints(excluded={(1, 9)}),
    )
    assert [(q.mentee_id, q.mentor_id) for q in p.pairs] == [(1, 8)]


@pytest.mark.parametrize(
    ("locked", "excluded", "reason"),
    [
        ({("a", "z")}, set(), "unknown_mentor"),
        ({("q", "x")}, set(), "unknown_mentee"),
        ({("a", "far")}, set(), "different_field"),
        ({("a", "boss")}, set(), "same_employer"),
        ({("a", "x")}, {("a", "x")}, "excluded"),
        ({("a", "x"), ("b", "x")}, set(), "capacity"),
        ({("a", "x"), ("a", "boss2")}, set(), "mentee_locked_twice"),
    ],
)
def test_a_lock_that_breaks_a_rule_raises_naming_the_pair(
    locked: set[tuple[str, str]], excluded: set[tuple[str, str]], reason: str
) -> None:
    mentees = [mentee("a", employer_key="k"), mentee("b")]
    mentors = [
        mentor("x"),
        mentor("far", isco_code="3112"),
        mentor("boss", employer_key="k"),
        mentor("boss2"),
    ]
    with pytest.raises(LockConflict, match=r"locked pair \(mentee \w+, mentor \w+\)") as caught:
        propose(mentees, mentors, constraints=Constraints(locked=locked, excluded=excluded))
    assert caught.value.reason == reason
    assert caught.value.pair in locked


# --- the vectorised path agrees with the scalar definitions ----------------------------------


def random_profile(rng: random.Random, role: Role) -> MatchingProfile:
    return profile(
        role,
        isco_code=rng.choice(["2142", "2146", "2151", "2511", "2", "21", "3112", "0110"]),
        education_level=rng.randint(3, 8),
        education_field=rng.choice([None, "07", "073", "0732", "0714", "0411", "0910"]),
        languages=tuple(
            LanguageSkill(language=lang, level=rng.choice(list(Cefr)))
            for lang in rng.sample(["fi", "en", "ar", "ru", "so", "sv"], rng.randint(0, 4))
        ),
        region=rng.choice([None, "01", "02", "06"]),
        remote_ok=rng.random() < 0.6,
        topics=tuple(
            rng.sample(["cv", "network", "interview", "sector", "lang"], rng.randint(0, 4))
        ),
        availability=tuple(
            rng.sample(["weekday_daytime", "weekday_evening", "weekend"], rng.randint(0, 3))
        ),
        capacity=rng.randint(1, 3),
        employer_key=rng.choice([None, None, "k1", "k2"]),
    )


def random_cohort(seed: int, n: int, m: int) -> tuple[list[Mentee], list[Mentor]]:
    rng = random.Random(seed)
    return (
        [Mentee(UUID(int=i + 1), random_profile(rng, Role.MENTEE)) for i in range(n)],
        [Mentor(UUID(int=10**6 + j), random_profile(rng, Role.MENTOR)) for j in range(m)],
    )


@pytest.mark.parametrize(
    "weights",
    [
        Weights(),
        FIELD_ONLY,
        Weights(1, 2, 3, 4, 5, 6, 7),
        Weights(0, 0, 0, 0, 0, 0, availability=1),
    ],
)
def test_score_matrix_matches_the_scalar_score(weights: Weights) -> None:
    mentees, mentors = random_cohort(7, 40, 30)
    scores, allowed = score_matrix(mentees, mentors, weights)
    for i, e in enumerate(mentees):
        for j, r in enumerate(mentors):
            assert scores[i, j] == round(score(e.profile, r.profile, weights) * SCALE)
            assert allowed[i, j] == (hard_rule(e, r) is None)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_dense_linear_sum_assignment(mode: Mode, seed: int) -> None:
    """The sparse solve + certificate reaches the same optimum as SciPy's dense LSA on the
    capacity-expanded matrix (forbidden pairs: cost 0 for BEST_TOTAL_FIT, a large cost for
    MOST_MATCHED, which makes LSA maximise the number of pairs first)."""
    mentees, mentors = random_cohort(seed, 150, 90)
    scores, allowed = score_matrix(mentees, mentors)
    owner = np.repeat(np.arange(len(mentors)), [r.capacity for r in mentors])
    forbidden = 0.0 if mode is Mode.BEST_TOTAL_FIT else 1e12
    cost = np.where(allowed[:, owner], -scores[:, owner].astype(np.float64), forbidden)
    rows, cols = linear_sum_assignment(cost)
    real = allowed[rows, owner[cols]]
    lsa_total = int(scores[rows[real], owner[cols[real]]].sum())
    for k in (1, 4, 16):
        p = propose(mentees, mentors, mode=mode, candidates=k)
        assert round(p.total_score * SCALE) == lsa_total
        if mode is Mode.MOST_MATCHED:
            assert len(p.pairs) == int(real.sum())


def test_same_input_in_any_order_gives_the_same_proposal() -> None:
    mentees, mentors = random_cohort(5, 60, 40)
    first = propose(mentees, mentors, mode=Mode.MOST_MATCHED)
    rng = random.Random(1)
    for _ in range(3):
        rng.shuffle(mentees)
        rng.shuffle(mentors)
        assert propose(mentees, mentors, mode=Mode.MOST_MATCHED) == first
    assert propose(mentees, mentors, mode=Mode.MOST_MATCHED, workers=1) == first
