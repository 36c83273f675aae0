import pytest

from services.intake.domain import (
    NOT_IN_TARGET_GROUP,
    OPEN_CODES,
    SEALED_CODES,
    TRANSITIONS,
    ScreeningInput,
    Status,
    TransitionError,
    check_transition,
    is_sealed,
    public_reasons,
    screen,
    split_sealed,
    unseal,
)
from shared.events import ApplicationScreened, Cefr, LanguageSkill, Role


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


EVERY_SCREENING = [
    mentee(),
    mentee(education_level=4, languages=(), birth_year=2015),
    mentee(languages=(LanguageSkill(language="fi", level=Cefr.A1),), birth_year=None),
    mentee(identifies_as_woman=False, immigrant_background=False),
    mentee(immigrant_background=None),
    mentee(role=Role.MENTOR, birth_year=1940),
]
"""Between them, every code `screen` can give."""


def test_codes_from_age_gender_or_background_are_sealed_the_others_open() -> None:
    given = {
        code
        for application in EVERY_SCREENING
        for code in (lambda s: s.reasons + s.notes)(screen(application, current_year=2027))
    }
    assert {c for c in given if is_sealed(c)} == SEALED_CODES
    assert {c for c in given if not is_sealed(c)} == OPEN_CODES - {
        NOT_IN_TARGET_GROUP,
        "coordinator_override",
        "rolled_over",
    }
    assert not OPEN_CODES & SEALED_CODES
    assert is_sealed("a_rule_added_later")  # sealed until declared open


def test_the_public_reasons_never_name_a_sealed_one() -> None:
    for application in EVERY_SCREENING:
        result = screen(application, current_year=2027)
        public = public_reasons(result.reasons)
        assert not any(is_sealed(code) for code in public)
        assert bool(public) == (not result.eligible)  # ineligible always says something
        sealed = split_sealed(result.reasons)[1]
        assert set(unseal(public, sealed)) == set(result.reasons)


def test_only_sealed_reasons_become_the_neutral_code_open_ones_stay_alone() -> None:
    background = screen(mentee(immigrant_background=False), current_year=2027)
    assert public_reasons(background.reasons) == (NOT_IN_TARGET_GROUP,)
    age = screen(mentee(birth_year=1950), current_year=2027)
    assert age.reasons == ("age_outside_working_age",)
    assert public_reasons(age.reasons) == (NOT_IN_TARGET_GROUP,)
    both = screen(mentee(education_level=4, identifies_as_woman=False), current_year=2027)
    assert public_reasons(both.reasons) == ("degree_below_bachelor",)
    assert unseal(public_reasons(both.reasons), ("not_in_target_group_gender",)) == both.reasons
    assert split_sealed(("age_not_given", "employer_not_given")) == (
        ("employer_not_given",),
        ("age_not_given",),
    )


def test_the_event_contract_names_exactly_the_public_reasons() -> None:
    described = ApplicationScreened.model_fields["reason_codes"].description or ""
    for code in OPEN_CODES - {"employer_not_given", "rolled_over"}:
        assert code in described
    assert not any(code in described for code in SEALED_CODES)


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


def test_default_cycle_takes_the_next_application_month() -> None:
    from datetime import date

    from services.intake.domain import default_cycle_dates

    dates = default_cycle_dates(date(2026, 11, 26), application_months=(1, 8), cycle_months=8)
    assert dates.applications_open == date(2027, 1, 1)
    assert dates.applications_close == date(2027, 1, 31)
    assert dates.starts_on == date(2027, 3, 1)
    assert dates.ends_on == date(2027, 10, 31)
    summer = default_cycle_dates(date(2027, 1, 1), application_months=(1, 8), cycle_months=8)
    assert summer.applications_open == date(2027, 8, 1)
    assert summer.ends_on == date(2028, 5, 31)


def test_month_arithmetic_clamps_to_the_month_end() -> None:
    from datetime import date

    from services.intake.domain import add_months

    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 11, 15), 3) == date(2028, 2, 15)


def test_cycle_dates_must_follow_each_other() -> None:
    from datetime import date

    from services.intake.domain import CycleDates, check_cycle_dates

    d = date
    assert (
        check_cycle_dates(CycleDates(d(2027, 1, 1), d(2027, 1, 31), d(2027, 3, 1), d(2027, 10, 31)))
        is None
    )
    assert (
        check_cycle_dates(CycleDates(d(2027, 2, 1), d(2027, 1, 31), d(2027, 3, 1), d(2027, 10, 31)))
        == "close_before_open"
    )
    assert (
        check_cycle_dates(CycleDates(d(2027, 1, 1), d(2027, 3, 1), d(2027, 3, 1), d(2027, 10, 31)))
        == "starts_before_close"
    )
    assert (
        check_cycle_dates(CycleDates(d(2027, 1, 1), d(2027, 1, 31), d(2027, 3, 1), d(2027, 3, 1)))
        == "ends_before_start"
    )


def test_a_cycle_steps_forward_to_completed() -> None:
    from services.intake.domain import CycleStatus, next_cycle_status

    seen = [CycleStatus.DRAFT]
    while (step := next_cycle_status(seen[-1])) is not None:
        seen.append(step)
    assert [s.value for s in seen] == [
        "draft",
        "open",
        "screening",
        "matching",
        "running",
        "completed",
    ]
