"""Surveys, pure: the default questions, checking a template, planning a cycle's surveys
and invitations, and checking an answer sheet. No I/O; `survey_service.py` does the rest.

A question is a dict (stored as JSON in templates and in each survey's snapshot):

    {"key": "confidence_job_search", "type": "likert", "required": true,
     "label": {"fi": "...", "en": "..."},
     "options": [{"key": "cv", "label": {"fi": "...", "en": "..."}}]}   # choice types only

Likert answers are integers 1-5 (the labels of the ends are the same for every Likert
question: "not at all" / "fully"). Answers are `{key: int | str | list[str]}`; free text
(`text` questions) is separated from the closed answers before anything is stored.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")
KINDS = ("baseline", "midway", "end", "follow_up")
ROLES = ("mentee", "mentor")
QUESTION_TYPES = ("likert", "single", "multiple", "text")
TEMPLATE_LANGUAGES = ("fi", "en")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
LIKERT_MIN, LIKERT_MAX = 1, 5
MAX_QUESTIONS = 40
MAX_OPTIONS = 20
MAX_LABEL = 500
MAX_TEXT_ANSWER = 4000

#: A survey stays open this many days after it opens (its invitation's day).
OPEN_DAYS = 21
#: One reminder this many days after the invitation, if still unanswered (and still open).
REMINDER_AFTER_DAYS = 7
#: The follow-up survey opens this many months after the cycle's end.
FOLLOW_UP_MONTHS = 6
#: Invitations go out at this local time (Helsinki) on their day.
SEND_AT = time(9, 0)

EMPLOYMENT_OPTIONS = (
    "employed_own_field",
    "employed_other_field",
    "internship_or_temporary",
    "further_education",
    "still_seeking",
    "other",
)
SUPPORT_OPTIONS = (
    "cv",
    "job_interview",
    "network",
    "finnish_language",
    "sector_knowledge",
    "confidence",
)


# --- default templates ---------------------------------------------------------------------


def _label(fi: str, en: str) -> dict[str, str]:
    return {"fi": fi, "en": en}


_OPTION_LABELS: dict[str, dict[str, str]] = {
    "employed_own_field": _label("Työssä omalla alallani", "Employed in my own field"),
    "employed_other_field": _label("Työssä muulla alalla", "Employed in another field"),
    "internship_or_temporary": _label(
        "Harjoittelussa tai määräaikaisessa työssä", "In an internship or a temporary job"
    ),
    "further_education": _label("Opiskelen tai täydennyskoulutuksessa", "In further education"),
    "still_seeking": _label("Etsin vielä työtä", "Still looking for work"),
    "other": _label("Muu tilanne", "Something else"),
    "cv": _label("Ansioluettelo ja hakemukset", "CV and applications"),
    "job_interview": _label("Työhaastatteluun valmistautuminen", "Preparing for job interviews"),
    "network": _label("Ammatillinen verkosto", "Professional network"),
    "finnish_language": _label("Suomen kieli työelämässä", "Finnish at work"),
    "sector_knowledge": _label("Alan tuntemus Suomessa", "Knowing the sector in Finland"),
    "confidence": _label("Itseluottamus", "Confidence"),
}


def _likert(key: str, fi: str, en: str) -> dict[str, Any]:
    return {"key": key, "type": "likert", "required": True, "label": _label(fi, en)}


def _choice(key: str, kind: str, fi: str, en: str, options: tuple[str, ...]) -> dict[str, Any]:
    return {
        "key": key,
        "type": kind,
        "required": kind == "single",
        "label": _label(fi, en),
        "options": [{"key": o, "label": dict(_OPTION_LABELS[o])} for o in options],
    }


def _defaults_for(kind: str, role: str) -> list[dict[str, Any]]:
    comments = {
        "key": "comments",
        "type": "text",
        "required": False,
        "label": _label("Muuta kommentoitavaa?", "Anything else you would like to tell us?"),
    }
    if role == "mentor":
        if kind not in ("midway", "end"):
            return []
        return [
            _likert(
                "satisfaction_pair",
                "Kuinka tyytyväinen olet mentorointipariisi?",
                "How satisfied are you with your mentoring pair?",
            ),
            _choice(
                "support_received",
                "multiple",
                "Missä asioissa olet tukenut mentoroitavaasi?",
                "What have you supported your mentee with?",
                SUPPORT_OPTIONS,
            ),
            comments,
        ]
    questions = [
        _likert(
            "confidence_job_search",
            "Kuinka luottavainen olet työnhaussasi?",
            "How confident do you feel in your job search?",
        ),
        _likert(
            "finnish_at_work",
            "Kuinka hyvin pärjäät suomen kielellä työelämässä?",
            "How well do you manage in Finnish at work?",
        ),
        _likert(
            "professional_network",
            "Kuinka vahva on ammatillinen verkostosi Suomessa?",
            "How strong is your professional network in Finland?",
        ),
    ]
    if kind in ("midway", "end"):
        questions.append(
            _likert(
                "satisfaction_pair",
                "Kuinka tyytyväinen olet mentorointipariisi?",
                "How satisfied are you with your mentoring pair?",
            )
        )
        questions.append(
            _choice(
                "support_received",
                "multiple",
                "Missä asioissa olet saanut tukea mentoriltasi?",
                "What have you received support with from your mentor?",
                SUPPORT_OPTIONS,
            )
        )
    questions.append(
        _choice(
            "employment_status",
            "single",
            "Mikä on tämänhetkinen tilanteesi työelämässä?",
            "What is your situation at work now?",
            EMPLOYMENT_OPTIONS,
        )
    )
    questions.append(comments)
    return questions


def default_questions(kind: str, role: str) -> list[dict[str, Any]]:
    """The questions shipped for (kind, role); an empty list means no survey by default."""
    return _defaults_for(kind, role)


DEFAULT_VERSION = 1


# --- checking a template -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong and where: `field` like `questions.2.label.en`, `code` a short slug."""

    field: str
    code: str
    message: str


def _check_label(label: Any, where: str) -> Problem | None:
    if not isinstance(label, dict):
        return Problem(where, "label_missing", "give the text in Finnish and English")
    for lang in TEMPLATE_LANGUAGES:
        value = label.get(lang)
        if not isinstance(value, str) or not value.strip():
            return Problem(f"{where}.{lang}", "label_missing", f"the text in {lang} is missing")
        if len(value) > MAX_LABEL:
            return Problem(f"{where}.{lang}", "label_too_long", f"at most {MAX_LABEL} characters")
    return None


def check_questions(questions: Any) -> list[Problem]:
    """Every problem of a template's question list (empty = fine)."""
    if not isinstance(questions, list):
        return [Problem("questions", "not_a_list", "the questions must be a list")]
    if len(questions) > MAX_QUESTIONS:
        return [Problem("questions", "too_many", f"at most {MAX_QUESTIONS} questions")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, q in enumerate(questions):
        where = f"questions.{i}"
        if not isinstance(q, dict):
            problems.append(Problem(where, "not_a_question", "a question must be an object"))
            continue
        unknown = set(q) - {"key", "type", "required", "label", "options"}
        if unknown:
            problems.append(
                Problem(where, "unknown_field", f"unknown field(s): {', '.join(sorted(unknown))}")
            )
        key = q.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            problems.append(
                Problem(
                    f"{where}.key",
                    "bad_key",
                    "a key is 2-41 characters: a lowercase letter, then letters, digits or _",
                )
            )
        elif key in seen:
            problems.append(
                Problem(f"{where}.key", "duplicate_key", f"the key {key} is used twice")
            )
        else:
            seen.add(key)
        kind = q.get("type")
        if kind not in QUESTION_TYPES:
            problems.append(
                Problem(f"{where}.type", "bad_type", "the type is likert, single, multiple or text")
            )
        if not isinstance(q.get("required", False), bool):
            problems.append(Problem(f"{where}.required", "bad_required", "required is true/false"))
        label_problem = _check_label(q.get("label"), f"{where}.label")
        if label_problem:
            problems.append(label_problem)
        options = q.get("options")
        if kind in ("single", "multiple"):
            problems.extend(_check_options(options, f"{where}.options"))
        elif options is not None:
            problems.append(
                Problem(
                    f"{where}.options", "options_not_allowed", "only choice questions have options"
                )
            )
    return problems


def _check_options(options: Any, where: str) -> list[Problem]:
    if not isinstance(options, list) or len(options) < 2:
        return [Problem(where, "options_missing", "a choice question needs at least two options")]
    if len(options) > MAX_OPTIONS:
        return [Problem(where, "too_many_options", f"at most {MAX_OPTIONS} options")]
    problems: list[Problem] = []
    keys: set[str] = set()
    for j, option in enumerate(options):
        spot = f"{where}.{j}"
        if not isinstance(option, dict) or set(option) - {"key", "label"}:
            problems.append(Problem(spot, "bad_option", "an option has a key and a label"))
            continue
        okey = option.get("key")
        if not isinstance(okey, str) or not KEY_PATTERN.match(okey):
            problems.append(
                Problem(f"{spot}.key", "bad_key", "an option key is like a question key")
            )
        elif okey in keys:
            problems.append(
                Problem(f"{spot}.key", "duplicate_key", f"the option {okey} is used twice")
            )
        else:
            keys.add(okey)
        label_problem = _check_label(option.get("label"), f"{spot}.label")
        if label_problem:
            problems.append(label_problem)
    return problems


def normalise_questions(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A checked question list in its stored shape (`required` explicit, labels trimmed)."""
    result = []
    for q in questions:
        item: dict[str, Any] = {
            "key": q["key"],
            "type": q["type"],
            "required": bool(q.get("required", False)),
            "label": {lang: q["label"][lang].strip() for lang in TEMPLATE_LANGUAGES},
        }
        if q["type"] in ("single", "multiple"):
            item["options"] = [
                {
                    "key": o["key"],
                    "label": {lang: o["label"][lang].strip() for lang in TEMPLATE_LANGUAGES},
                }
                for o in q["options"]
            ]
        result.append(item)
    return result


# --- planning ------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def opens_on(kind: str, starts_on: date, ends_on: date) -> date:
    """The day the cycle's survey of `kind` opens (its invitations' day)."""
    if kind == "baseline":
        return starts_on
    if kind == "midway":
        return starts_on + (ends_on - starts_on) // 2
    if kind == "end":
        return ends_on
    if kind == "follow_up":
        return add_months(ends_on, FOLLOW_UP_MONTHS)
    raise ValueError(f"unknown survey kind {kind!r}")


def closes_on(opened: date) -> date:
    """The last day answers are taken (inclusive)."""
    return opened + timedelta(days=OPEN_DAYS - 1)


def local_moment(day: date, at: time = SEND_AT) -> datetime:
    return datetime.combine(day, at, tzinfo=HELSINKI)


def local_date(moment: datetime) -> date:
    return moment.astimezone(HELSINKI).date()


def invitation_due(survey_opens: date, survey_closes: date, now: datetime) -> datetime | None:
    """When a participant's invitation goes out: the opening morning, or now if she joins a
    survey that is open already; None if the survey has closed."""
    if local_date(now) > survey_closes:
        return None
    return max(local_moment(survey_opens), now)


def reminder_due(invited_at: datetime, survey_closes: date) -> datetime | None:
    """When the one reminder goes out, or None if the survey closes before."""
    moment = invited_at + timedelta(days=REMINDER_AFTER_DAYS)
    return moment if local_date(moment) <= survey_closes else None


def survey_state(opened: date, closes: date, today: date) -> str:
    """The state on `today` (local date): "not_open", "open" or "closed"."""
    if today < opened:
        return "not_open"
    if today > closes:
        return "closed"
    return "open"


# --- checking answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedAnswers:
    closed: dict[str, int | str | list[str]]
    texts: dict[str, str]


class AnswerProblems(Exception):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems  # question key -> code


def check_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> CheckedAnswers:
    """The answers split into closed values and free text, or `AnswerProblems` naming each
    question at fault (codes: required, out_of_range, not_an_option, too_long, unknown_question,
    wrong_type)."""
    by_key = {q["key"]: q for q in questions}
    problems: dict[str, str] = {}
    for key in answers:
        if key not in by_key:
            problems[key] = "unknown_question"
    closed: dict[str, int | str | list[str]] = {}
    texts: dict[str, str] = {}
    for q in questions:
        key, value = q["key"], answers.get(q["key"])
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            if q.get("required"):
                problems[key] = "required"
            continue
        problem = _check_value(q, value)
        if problem:
            problems[key] = problem
        elif q["type"] == "text":
            texts[key] = value.strip()
        elif q["type"] == "multiple":
            closed[key] = sorted(set(value))
        else:
            closed[key] = value
    if problems:
        raise AnswerProblems(problems)
    return CheckedAnswers(closed, texts)


def _check_value(q: dict[str, Any], value: Any) -> str | None:
    kind = q["type"]
    if kind == "likert":
        if not isinstance(value, int) or isinstance(value, bool):
            return "wrong_type"
        return None if LIKERT_MIN <= value <= LIKERT_MAX else "out_of_range"
    options = {o["key"] for o in q.get("options", [])}
    if kind == "single":
        if not isinstance(value, str):
            return "wrong_type"
        return None if value in options else "not_an_option"
    if kind == "multiple":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "wrong_type"
        return None if set(value) <= options else "not_an_option"
    if not isinstance(value, str):
        return "wrong_type"
    return None if len(value) <= MAX_TEXT_ANSWER else "too_long"
