"""Intake's survey forms, without a server: the participant's answers parsed question by
question, and the coordinator's template form turned into questions and back."""

from __future__ import annotations

from uuid import uuid4

from starlette.datastructures import FormData

from services.feedback.survey_domain import check_questions, default_questions
from services.intake.web.surveys import (
    _error_spot,
    parse_answers,
    parse_template_form,
    question_language,
    submission_command_id,
    template_rows,
)

QUESTIONS = default_questions("midway", "mentee")


def form(*pairs: tuple[str, str]) -> FormData:
    return FormData(list(pairs))


def test_answers_are_typed_and_free_text_kept_apart_from_nothing() -> None:
    answers, errors, values = parse_answers(
        QUESTIONS,
        form(
            ("q_confidence_job_search", "4"),
            ("q_finnish_at_work", "1"),
            ("q_professional_network", "5"),
            ("q_satisfaction_pair", "3"),
            ("q_support_received", "cv"),
            ("q_support_received", "network"),
            ("q_employment_status", "still_seeking"),
            ("q_comments", "  "),
        ),
    )
    assert errors == {}
    assert answers == {
        "confidence_job_search": 4,
        "finnish_at_work": 1,
        "professional_network": 5,
        "satisfaction_pair": 3,
        "support_received": ["cv", "network"],
        "employment_status": "still_seeking",
    }
    assert values["support_received"] == ["cv", "network"]


def test_each_question_at_fault_gets_its_own_code() -> None:
    _, errors, values = parse_answers(
        QUESTIONS,
        form(
            ("q_confidence_job_search", "6"),
            ("q_finnish_at_work", "abc"),
            ("q_support_received", "magic"),
            ("q_employment_status", "astronaut"),
            ("q_comments", "x" * 4001),
        ),
    )
    assert errors == {
        "confidence_job_search": "out_of_range",
        "finnish_at_work": "out_of_range",
        "professional_network": "required",
        "satisfaction_pair": "required",
        "support_received": "not_an_option",
        "employment_status": "not_an_option",
        "comments": "too_long",
    }
    assert values["confidence_job_search"] == "6"  # shown again as she typed it


def test_the_same_form_is_one_command_and_a_corrected_one_another() -> None:
    invitation = uuid4()
    one = submission_command_id("s1", invitation, {"a": 1, "b": "x"})
    assert one == submission_command_id("s1", invitation, {"b": "x", "a": 1})
    assert one != submission_command_id("s1", invitation, {"a": 2, "b": "x"})
    assert one != submission_command_id("s2", invitation, {"a": 1, "b": "x"})


def test_swedish_readers_get_the_english_questions() -> None:
    assert [question_language(x) for x in ("fi", "en", "sv")] == ["fi", "en", "en"]


def _as_form(rows: list[dict]) -> FormData:
    pairs = [("rows", str(len(rows)))]
    for i, row in enumerate(rows):
        for field in ("position", "key", "type", "label_fi", "label_en", "options"):
            pairs.append((f"q-{i}-{field}", str(row[field])))
        if row["required"]:
            pairs.append((f"q-{i}-required", "yes"))
        if row.get("remove"):
            pairs.append((f"q-{i}-remove", "yes"))
    return FormData(pairs)


def test_the_template_form_round_trips_the_questions() -> None:
    rows = template_rows(QUESTIONS)
    assert len(rows) == len(QUESTIONS) + 2 and rows[-1]["new"]
    questions, origin, _, errors = parse_template_form(_as_form(rows))
    assert errors == {} and origin == list(range(len(QUESTIONS)))
    assert questions == QUESTIONS
    assert check_questions(questions) == []


def test_rows_are_ordered_removed_and_blank_rows_left_out() -> None:
    rows = template_rows(QUESTIONS)
    rows[0]["position"] = "99"  # confidence goes last
    rows[6]["remove"] = True  # comments go
    new = rows[-2] | {"key": "extra", "label_fi": "Lisä", "label_en": "Extra", "position": "0"}
    rows[-2] = new
    questions, origin, _, _ = parse_template_form(_as_form(rows))
    keys = [q["key"] for q in questions]
    assert keys[0] == "extra" and keys[-1] == "confidence_job_search"
    assert "comments" not in keys and len(keys) == len(QUESTIONS)
    assert origin[0] == len(rows) - 2 and origin[-1] == 0


def test_a_bad_options_line_is_named_on_its_row() -> None:
    rows = template_rows(QUESTIONS)
    rows[4]["options"] = "cv | CV only two parts"
    _, _, _, errors = parse_template_form(_as_form(rows))
    assert errors == {(4, "options"): "bad_options_line"}


def test_feedback_s_field_names_point_at_the_row_and_field() -> None:
    origin = [3, 0, 1]
    assert _error_spot("questions.0.label.en", origin) == (3, "label_en")
    assert _error_spot("questions.2.options.1.key", origin) == (1, "options")
    assert _error_spot("questions.1.type", origin) == (0, "type")
    assert _error_spot("questions.1", origin) == (0, "key")
    assert _error_spot("questions", origin) is None
    assert _error_spot("questions.9.key", origin) is None
    assert _error_spot(None, origin) is None
