"""A mentee's outcome, derived from her survey answers (pure: no I/O).

The rule (docs/feedback.md, "Outcomes"):

- Her employment status comes from the follow-up survey (six months after the cycle) when
  she answered `employment_status` there, else from the end survey. Neither: no outcome yet.
- `employed_own_field`, `employed_other_field`, `internship_or_temporary` and
  `further_education` are outcomes as they are.
- `still_seeking` is `confidence_no_change` when her confidence in job search
  (`confidence_job_search`, Likert 1-5, from the same survey, else the other closing one)
  rose against her baseline answer or is 4 or more; otherwise `other`.
- `other` (and any status this code does not know) is `other`.

A coordinator's override beats the derived outcome, and a later survey does not replace
it: `effective` is the override when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.events import Outcome, SurveyKind

STATUS_QUESTION = "employment_status"
CONFIDENCE_QUESTION = "confidence_job_search"
STILL_SEEKING = "still_seeking"
CONFIDENT_ENOUGH = 4
"""A confidence of 4 or 5 out of 5 counts as "gained confidence" even without a baseline."""

_AS_IS = {
    Outcome.EMPLOYED_OWN_FIELD.value: Outcome.EMPLOYED_OWN_FIELD,
    Outcome.EMPLOYED_OTHER_FIELD.value: Outcome.EMPLOYED_OTHER_FIELD,
    Outcome.INTERNSHIP_OR_TEMPORARY.value: Outcome.INTERNSHIP_OR_TEMPORARY,
    Outcome.FURTHER_EDUCATION.value: Outcome.FURTHER_EDUCATION,
}


@dataclass(frozen=True)
class Answers:
    """One completed response: its id, survey kind and closed answers."""

    response_id: UUID
    kind: SurveyKind
    answers: Mapping[str, Any]


@dataclass(frozen=True)
class Derived:
    outcome: Outcome
    response_id: UUID
    """The response whose employment status decided it (end or follow-up)."""


def _likert(answers: Answers | None) -> int | None:
    if answers is None:
        return None
    value = answers.answers.get(CONFIDENCE_QUESTION)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _latest(responses: Sequence[Answers], kind: SurveyKind) -> Answers | None:
    """Her response of that kind (the last one given, should there be several)."""
    found = [r for r in responses if r.kind is kind]
    return found[-1] if found else None


def derive_outcome(responses: Sequence[Answers]) -> Derived | None:
    """Her outcome from her responses of one cycle (any order of kinds), or None yet."""
    baseline = _latest(responses, SurveyKind.BASELINE)
    end = _latest(responses, SurveyKind.END)
    follow_up = _latest(responses, SurveyKind.FOLLOW_UP)
    closing = [r for r in (follow_up, end) if r is not None]
    deciding = next((r for r in closing if isinstance(r.answers.get(STATUS_QUESTION), str)), None)
    if deciding is None:
        return None
    status = deciding.answers[STATUS_QUESTION]
    if status in _AS_IS:
        return Derived(_AS_IS[status], deciding.response_id)
    if status != STILL_SEEKING:
        return Derived(Outcome.OTHER, deciding.response_id)
    others = [r for r in closing if r is not deciding]
    confidence = _likert(deciding)
    if confidence is None and others:
        confidence = _likert(others[0])
    before = _likert(baseline)
    gained = confidence is not None and (
        confidence >= CONFIDENT_ENOUGH or (before is not None and confidence > before)
    )
    return Derived(Outcome.CONFIDENCE_NO_CHANGE if gained else Outcome.OTHER, deciding.response_id)


def effective_outcome(derived: Outcome | None, override: Outcome | None) -> Outcome | None:
    """The outcome that counts: a coordinator's override, else the derived one."""
    return override if override is not None else derived


REASON_MIN, REASON_MAX = 3, 500


def check_reason(reason: str) -> str | None:
    """Why an override's reason is refused (a code), or None when it is fine."""
    length = len(reason.strip())
    if length < REASON_MIN:
        return "reason_required"
    if length > REASON_MAX:
        return "reason_too_long"
    return None
