"""Surveys, pure: default questions, template checks, planning dates, answer checks."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.feedback import survey_domain as d

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_defaults_carry_the_agreed_keys_in_both_languages() -> None:
    for kind in d.KINDS:
        questions = d.default_questions(kind, "mentee")
        keys = [q["key"] for q in questions]
        assert keys[:3] == ["confidence_job_search", "finnish_at_work", "professional_network"]
        assert "employment_status" in keys and keys[-1] == "comments"
        assert ("satisfaction_pair" in keys) == (kind in ("midway", "end"))
        assert ("support_received" in keys) == (kind in ("midway", "end"))
        assert d.check_questions(questions) == []
    status = next(
        q for q in d.default_questions("end", "mentee") if q["key"] == "employment_status"
    )
    assert [o["key"] for o in status["options"]] == list(d.EMPLOYMENT_OPTIONS)
    support = next(
        q for q in d.default_questions("midway", "mentee") if q["key"] == "support_received"
    )
    assert support["type"] == "multiple"
    assert [o["key"] for o in support["options"]] == list(d.SUPPORT_OPTIONS)
    assert d.default_questions("baseline", "mentor") == []
    assert [q["key"] for q in d.default_questions("end", "mentor")] == [
        "satisfaction_pair",
        "support_received",
        "comments",
    ]


def test_defaults_are_fresh_copies() -> None:
    first = d.default_questions("end", "mentee")
    first[0]["label"]["fi"] = "changed"
    assert d.default_questions("end", "mentee")[0]["label"]["fi"] != "changed"


def _template() -> list[dict]:
    return copy.deepcopy(d.default_questions("midway", "mentee"))


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        (lambda q: q[0].update(key="Bad Key"), "questions.0.key", "bad_key"),
        (lambda q: q[0].update(key="x"), "questions.0.key", "bad_key"),
        (lambda q: q[1].update(key=q[0]["key"]), "questions.1.key", "duplicate_key"),
        (lambda q: q[0].update(type="slider"), "questions.0.type", "bad_type"),
        (lambda q: q[0]["label"].pop("en"), "questions.0.label.en", "label_missing"),
        (lambda q: q[0]["label"].update(fi="  "), "questions.0.label.fi", "label_missing"),
        (
            lambda q: q[4].update(options=[q[4]["options"][0]]),
            "questions.4.options",
            "options_missing",
        ),
        (
            lambda q: q[4]["options"][1].update(key=q[4]["options"][0]["key"]),
            "questions.4.options.1.key",
            "duplicate_key",
        ),
        (
            lambda q: q[4]["options"][1]["label"].pop("fi"),
            "questions.4.options.1.label.fi",
            "label_missing",
        ),
        (lambda q: q[0].update(options=[]), "questions.0.options", "options_not_allowed"),
        (lambda q: q[0].update(required="yes"), "questions.0.required", "bad_required"),
        (lambda q: q[0].update(colour="red"), "questions.0", "unknown_field"),
    ],
)
def test_template_problems_name_the_field(change, field, code) -> None:
    questions = _template()
    change(questions)
    problems = d.check_questions(questions)
    assert (problems[0].field, problems[0].code) == (field, code)


def test_template_shape_problems() -> None:
    assert d.check_questions("nope")[0].code == "not_a_list"
    assert d.check_questions(["nope"])[0].code == "not_a_question"
    many = [
        {"key": f"q{i}", "type": "text", "label": {"fi": "a", "en": "b"}}
        for i in range(d.MAX_QUESTIONS + 1)
    ]
    assert d.check_questions(many)[0].code == "too_many"
    assert d.check_questions([]) == []  # an empty template: no survey of that kind


def test_normalise_trims_and_makes_required_explicit() -> None:
    stored = d.normalise_questions(
        [{"key": "q1", "type": "text", "label": {"fi": " Mitä? ", "en": "What? "}}]
    )
    assert stored == [
        {"key": "q1", "type": "text", "required": False, "label": {"fi": "Mitä?", "en": "What?"}}
    ]


def test_planning_dates() -> None:
    starts, ends = date(2031, 3, 1), date(2031, 10, 31)
    assert d.opens_on("baseline", starts, ends) == starts
    assert d.opens_on("midway", starts, ends) == date(2031, 7, 1)
    assert d.opens_on("end", starts, ends) == ends
    assert d.opens_on("follow_up", starts, ends) == date(2032, 4, 30)
    assert d.add_months(date(2031, 8, 31), 6) == date(2032, 2, 29)
    assert d.closes_on(starts) == date(2031, 3, 21)
    with pytest.raises(ValueError):
        d.opens_on("weekly", starts, ends)


def test_invitation_and_reminder_moments() -> None:
    opens, closes = date(2031, 3, 1), date(2031, 3, 21)
    early = datetime(2031, 2, 1, tzinfo=HELSINKI)
    assert d.invitation_due(opens, closes, early) == datetime(2031, 3, 1, 9, tzinfo=HELSINKI)
    late = datetime(2031, 3, 10, 15, tzinfo=HELSINKI)
    assert d.invitation_due(opens, closes, late) == late  # joined while open: invited at once
    assert d.invitation_due(opens, closes, datetime(2031, 3, 22, tzinfo=HELSINKI)) is None
    invited = datetime(2031, 3, 1, 9, tzinfo=HELSINKI)
    assert d.reminder_due(invited, closes) == invited + timedelta(days=7)
    assert d.reminder_due(datetime(2031, 3, 18, tzinfo=HELSINKI), closes) is None


def test_survey_state_by_local_day() -> None:
    opens, closes = date(2031, 3, 1), date(2031, 3, 21)
    assert d.survey_state(opens, closes, date(2031, 2, 28)) == "not_open"
    assert d.survey_state(opens, closes, opens) == "open"
    assert d.survey_state(opens, closes, closes) == "open"
    assert d.survey_state(opens, closes, date(2031, 3, 22)) == "closed"


GOOD = {
    "confidence_job_search": 3,
    "finnish_at_work": 5,
    "professional_network": 1,
    "satisfaction_pair": 4,
    "support_received": ["network", "cv", "cv"],
    "employment_status": "still_seeking",
    "comments": "  Kiitos!  ",
}


def test_answers_split_closed_from_free_text() -> None:
    checked = d.check_answers(d.default_questions("midway", "mentee"), GOOD)
    assert checked.texts == {"comments": "Kiitos!"}
    assert "comments" not in checked.closed
    assert checked.closed["support_received"] == ["cv", "network"]
    assert checked.closed["finnish_at_work"] == 5


def test_optional_questions_may_be_left_empty() -> None:
    answers = {k: v for k, v in GOOD.items() if k not in ("comments", "support_received")}
    checked = d.check_answers(d.default_questions("midway", "mentee"), answers | {"comments": " "})
    assert checked.texts == {} and "support_received" not in checked.closed


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        ({"finnish_at_work": 6}, {"finnish_at_work": "out_of_range"}),
        ({"finnish_at_work": 0}, {"finnish_at_work": "out_of_range"}),
        ({"finnish_at_work": True}, {"finnish_at_work": "wrong_type"}),
        ({"finnish_at_work": "5"}, {"finnish_at_work": "wrong_type"}),
        ({"employment_status": "astronaut"}, {"employment_status": "not_an_option"}),
        ({"employment_status": ["cv"]}, {"employment_status": "wrong_type"}),
        ({"support_received": ["cv", "magic"]}, {"support_received": "not_an_option"}),
        ({"comments": "x" * (d.MAX_TEXT_ANSWER + 1)}, {"comments": "too_long"}),
        ({"surprise": 1}, {"surprise": "unknown_question"}),
        (
            {"satisfaction_pair": None, "confidence_job_search": None},
            {"satisfaction_pair": "required", "confidence_job_search": "required"},
        ),
    ],
)
def test_bad_answers_name_every_question_at_fault(change, problems) -> None:
    with pytest.raises(d.AnswerProblems) as bad:
        d.check_answers(d.default_questions("midway", "mentee"), GOOD | change)
    assert bad.value.problems == problems
