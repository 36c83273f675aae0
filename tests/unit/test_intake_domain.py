import pytest

from services.intake.domain import (
    TRANSITIONS,
    ScreeningInput,
    Status,
    TransitionError,
    check_transition,
    screen,
)
from shared.events import Cefr, LanguageSkill, Role


def mentee(**changes: object) -> ScreeningInput:
    values: dict[str, object] = {
        "role": Role.MENTEE,
        "education_level": 7,
        "languages": (LanguageSkill(language="fi", level=Cefr.B1),),
        "birth_year": 1990,
        "identifies_as_woman": True,
        "immigrant_background": True,
        "employer_given": False,
    }
    return ScreeningInput(**(values | changes))  # type: ignore[arg-type]


def test_a_mentee_in_the_target_group_is_eligible() -> None:
    result = screen(mentee(), current_year=2027)
    assert result.eligible and result.reasons == () and result.notes == ()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"education_level": 5}, "degree_below_bachelor"),
        ({"languages": (LanguageSkill(language="en", level=Cefr.C2),)}, "finnish_missing"),
        ({"languages": (LanguageSkill(language="fi", level=Cefr.A1),)}, "finnish_below_a2"),
        ({"birth_year": 2012}, "age_outside_working_age"),
        ({"birth_year": 1950}, "age_outside_working_age"),
        ({"identifies_as_woman": False}, "not_in_target_group_gender"),
        ({"immigrant_background": False}, "not_in_target_group_background"),
    ],
)
def test_each_rule_gives_its_reason(changes: dict[str, object], reason: str) -> None:
    result = screen(mentee(**changes), current_year=2027)
    assert not result.eligible
    assert result.reasons == (reason,)


def test_the_boundaries_of_the_rules_are_inclusive() -> None:
    assert screen(mentee(education_level=6), current_year=2027).eligible
    assert screen(
        mentee(languages=(LanguageSkill(language="fi", level=Cefr.A2),)), current_year=2027
    ).eligible
    assert screen(mentee(birth_year=2009), current_year=2027).eligible  # 18
    assert screen(mentee(birth_year=1960), current_year=2027).eligible  # 67


def test_the_best_of_several_finnish_levels_counts() -> None:
    skills = (
        LanguageSkill(language="fi", level=Cefr.A1),
        LanguageSkill(language="fi", level=Cefr.B2),
    )
    assert screen(mentee(languages=skills), current_year=2027).eligible


def test_unknown_background_or_age_is_a_note_not_a_refusal() -> None:
    result = screen(mentee(immigrant_background=None, birth_year=None), current_year=2027)
    assert result.eligible
    assert set(result.notes) == {"background_not_asked", "age_not_given"}


def test_several_failures_are_all_reported() -> None:
    result = screen(mentee(education_level=4, birth_year=2015), current_year=2027)
    assert set(result.reasons) == {"degree_below_bachelor", "age_outside_working_age"}


def test_mentors_are_not_held_to_mentee_rules() -> None:
    mentor = mentee(role=Role.MENTOR, education_level=4, languages=(), immigrant_background=False)
    result = screen(mentor, current_year=2027)
    assert result.eligible and result.notes == ("employer_not_given",)
    assert screen(mentee(role=Role.MENTOR, employer_given=True), current_year=2027).notes == ()


def test_coordinator_moves_follow_the_life_cycle() -> None:
    check_transition(Status.ELIGIBLE, Status.ACCEPTED, note=None)
    check_transition(Status.INTERVIEW, Status.WAITLISTED, note=None)
    check_transition(Status.WAITLISTED, Status.ACCEPTED, note=None)
    with pytest.raises(TransitionError) as refused:
        check_transition(Status.REJECTED, Status.ACCEPTED, note=None)
    assert refused.value.reason == "not_allowed"


def test_overriding_the_screening_needs_a_note() -> None:
    with pytest.raises(TransitionError) as refused:
        check_transition(Status.INELIGIBLE, Status.ELIGIBLE, note="  ")
    assert refused.value.reason == "note_required"
    check_transition(Status.INELIGIBLE, Status.ELIGIBLE, note="Degree recognised by OPH")


def test_withdrawal_is_possible_until_the_end_and_final_states_are_final() -> None:
    for status, targets in TRANSITIONS.items():
        if status in (Status.REJECTED, Status.WITHDRAWN):
            assert targets == frozenset()
        else:
            assert Status.WITHDRAWN in targets
