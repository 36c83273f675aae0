"""Interviews' set points and date checks (services/feedback/interviews.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.feedback.interviews import held_problem, planned_dates, schedule_problem


def test_interviews_two_weeks_in_half_way_and_two_weeks_before_the_end() -> None:
    planned = planned_dates(date(2026, 9, 1), date(2027, 4, 30))
    assert planned == {
        "start": date(2026, 9, 15),
        "midway": date(2026, 12, 30),
        "end": date(2027, 4, 16),
    }


def test_a_short_cycle_keeps_the_points_in_order() -> None:
    planned = planned_dates(date(2026, 9, 1), date(2026, 9, 11))
    assert planned["start"] <= planned["midway"] <= planned["end"]
    assert planned["midway"] == date(2026, 9, 6)


@pytest.mark.parametrize(
    ("day", "problem"),
    [
        (date(2026, 9, 1), None),
        (date(2026, 9, 1) - timedelta(days=200), None),
        (date(2026, 9, 1) - timedelta(days=201), "outside_cycle"),
        (date(2027, 4, 30) + timedelta(days=200), None),
        (date(2027, 4, 30) + timedelta(days=201), "outside_cycle"),
    ],
)
def test_an_interview_moves_at_most_200_days_outside_its_cycle(
    day: date, problem: str | None
) -> None:
    assert schedule_problem(day, date(2026, 9, 1), date(2027, 4, 30)) == problem


def test_an_interview_is_recorded_on_or_after_the_day_it_is_held() -> None:
    today, starts = date(2026, 11, 26), date(2026, 9, 1)
    assert held_problem(today, today, starts) is None
    assert held_problem(today + timedelta(days=1), today, starts) == "in_the_future"
    assert held_problem(starts - timedelta(days=201), today, starts) == "outside_cycle"
