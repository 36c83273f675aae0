"""A mentee's outcome from her survey answers (services/feedback/outcomes.py)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from services.feedback.outcomes import (
    Answers,
    check_reason,
    derive_outcome,
    effective_outcome,
)
from shared.events import Outcome, SurveyKind


def answers(kind: SurveyKind, **given: Any) -> Answers:
    return Answers(response_id=uuid4(), kind=kind, answers=given)


@pytest.mark.parametrize(
    "status",
    ["employed_own_field", "employed_other_field", "internship_or_temporary", "further_education"],
)
def test_a_status_that_is_an_outcome_is_taken_as_it_is(status: str) -> None:
    end = answers(SurveyKind.END, employment_status=status, confidence_job_search=1)
    derived = derive_outcome([end])
    assert derived is not None
    assert derived.outcome == Outcome(status)
    assert derived.response_id == end.response_id


def test_no_closing_answer_means_no_outcome_yet() -> None:
    baseline = answers(SurveyKind.BASELINE, employment_status="still_seeking")
    midway = answers(SurveyKind.MIDWAY, confidence_job_search=5)
    assert derive_outcome([]) is None
    assert derive_outcome([baseline, midway]) is None
    assert derive_outcome([answers(SurveyKind.END, confidence_job_search=5)]) is None


def test_the_follow_up_wins_over_the_end_survey_in_any_order() -> None:
    end = answers(SurveyKind.END, employment_status="internship_or_temporary")
    follow_up = answers(SurveyKind.FOLLOW_UP, employment_status="employed_own_field")
    for order in ([end, follow_up], [follow_up, end]):
        derived = derive_outcome(order)
        assert derived is not None
        assert derived.outcome is Outcome.EMPLOYED_OWN_FIELD
        assert derived.response_id == follow_up.response_id


def test_a_follow_up_without_employment_status_leaves_the_end_survey_deciding() -> None:
    end = answers(SurveyKind.END, employment_status="further_education")
    follow_up = answers(SurveyKind.FOLLOW_UP, confidence_job_search=2)
    derived = derive_outcome([end, follow_up])
    assert derived is not None
    assert (derived.outcome, derived.response_id) == (Outcome.FURTHER_EDUCATION, end.response_id)


def test_still_seeking_with_confidence_risen_against_baseline_is_confidence_no_change() -> None:
    baseline = answers(SurveyKind.BASELINE, confidence_job_search=2)
    end = answers(SurveyKind.END, employment_status="still_seeking", confidence_job_search=3)
    derived = derive_outcome([baseline, end])
    assert derived is not None and derived.outcome is Outcome.CONFIDENCE_NO_CHANGE


def test_still_seeking_with_high_confidence_and_no_baseline_is_confidence_no_change() -> None:
    end = answers(SurveyKind.END, employment_status="still_seeking", confidence_job_search=4)
    derived = derive_outcome([end])
    assert derived is not None and derived.outcome is Outcome.CONFIDENCE_NO_CHANGE


@pytest.mark.parametrize(("before", "after"), [(3, 3), (3, 2), (None, 3), (2, None), (None, None)])
def test_still_seeking_without_gained_confidence_is_other(
    before: int | None, after: int | None
) -> None:
    baseline = answers(SurveyKind.BASELINE, confidence_job_search=before)
    end = answers(SurveyKind.END, employment_status="still_seeking", confidence_job_search=after)
    derived = derive_outcome([baseline, end])
    assert derived is not None and derived.outcome is Outcome.OTHER


def test_still_seeking_at_follow_up_uses_the_end_surveys_confidence_if_it_has_none() -> None:
    baseline = answers(SurveyKind.BASELINE, confidence_job_search=1)
    end = answers(SurveyKind.END, employment_status="still_seeking", confidence_job_search=2)
    follow_up = answers(SurveyKind.FOLLOW_UP, employment_status="still_seeking")
    derived = derive_outcome([baseline, end, follow_up])
    assert derived is not None
    assert derived.outcome is Outcome.CONFIDENCE_NO_CHANGE
    assert derived.response_id == follow_up.response_id


def test_a_boolean_is_not_a_likert_answer() -> None:
    end = answers(SurveyKind.END, employment_status="still_seeking", confidence_job_search=True)
    derived = derive_outcome([answers(SurveyKind.BASELINE, confidence_job_search=0), end])
    assert derived is not None and derived.outcome is Outcome.OTHER


@pytest.mark.parametrize("status", ["other", "something_new"])
def test_other_and_unknown_statuses_are_other(status: str) -> None:
    derived = derive_outcome([answers(SurveyKind.END, employment_status=status)])
    assert derived is not None and derived.outcome is Outcome.OTHER


def test_the_override_wins_over_the_derived_outcome() -> None:
    assert effective_outcome(Outcome.OTHER, Outcome.EMPLOYED_OWN_FIELD) is (
        Outcome.EMPLOYED_OWN_FIELD
    )
    assert effective_outcome(Outcome.OTHER, None) is Outcome.OTHER
    assert effective_outcome(None, Outcome.FURTHER_EDUCATION) is Outcome.FURTHER_EDUCATION
    assert effective_outcome(None, None) is None


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        ("", "reason_required"),
        ("  a ", "reason_required"),
        ("ok!", None),
        ("x" * 500, None),
        ("x" * 501, "reason_too_long"),
    ],
)
def test_an_override_needs_a_reason_of_3_to_500_characters(
    reason: str, problem: str | None
) -> None:
    assert check_reason(reason) == problem
