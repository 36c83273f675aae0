"""Intake's pure domain: eligibility screening and the application's life cycle.

No I/O here: functions take plain values and return decisions, so the rules are fast to
unit-test and read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.events import Cefr, LanguageSkill, Role

WORKING_AGE = (18, 67)
"""Finnish earnings-related pension age for people born after 1965 is about 65-67."""
MIN_MENTEE_DEGREE = 6
"""ISCED 2011 level 6: bachelor's or equivalent."""
MIN_MENTEE_FINNISH = Cefr.A2
"""'At least basic Finnish' (DESIGN.md): CEFR A2, a basic user."""
CEFR_ORDER = (Cefr.A1, Cefr.A2, Cefr.B1, Cefr.B2, Cefr.C1, Cefr.C2, Cefr.NATIVE)


class Status(StrEnum):
    SUBMITTED = "submitted"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INTERVIEW = "interview"
    ACCEPTED = "accepted"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset({Status.ELIGIBLE, Status.INELIGIBLE, Status.WITHDRAWN}),
    Status.ELIGIBLE: frozenset(
        {Status.INTERVIEW, Status.ACCEPTED, Status.WAITLISTED, Status.REJECTED, Status.WITHDRAWN}
    ),
    Status.INELIGIBLE: frozenset({Status.ELIGIBLE, Status.REJECTED, Status.WITHDRAWN}),
    Status.INTERVIEW: frozenset(
        {Status.ACCEPTED, Status.WAITLISTED, Status.REJECTED, Status.WITHDRAWN}
    ),
    Status.WAITLISTED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN}),
    Status.ACCEPTED: frozenset({Status.WITHDRAWN}),
    Status.REJECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}
NEEDS_NOTE = frozenset({(Status.INELIGIBLE, Status.ELIGIBLE)})
"""Overriding the automatic screening must say why."""


class TransitionError(ValueError):
    def __init__(self, current: Status, wanted: Status, reason: str) -> None:
        super().__init__(f"cannot go from {current} to {wanted}: {reason}")
        self.current, self.wanted, self.reason = current, wanted, reason


def check_transition(current: Status, wanted: Status, *, note: str | None) -> None:
    """Raise `TransitionError` unless a coordinator may move an application so."""
    if wanted not in TRANSITIONS[current]:
        raise TransitionError(current, wanted, "not_allowed")
    if (current, wanted) in NEEDS_NOTE and not (note and note.strip()):
        raise TransitionError(current, wanted, "note_required")


@dataclass(frozen=True)
class ScreeningInput:
    role: Role
    education_level: int
    languages: tuple[LanguageSkill, ...]
    birth_year: int | None
    identifies_as_woman: bool | None
    immigrant_background: bool | None
    """None when the applicant did not consent to being asked (special-category data)."""
    employer_given: bool


@dataclass(frozen=True)
class Screening:
    eligible: bool
    reasons: tuple[str, ...]
    """Codes for ineligibility; `notes` are flags for the coordinator that do not exclude."""
    notes: tuple[str, ...] = ()


def language_level(languages: tuple[LanguageSkill, ...], code: str) -> Cefr | None:
    levels = [skill.level for skill in languages if skill.language == code]
    return max(levels, key=CEFR_ORDER.index) if levels else None


def screen(application: ScreeningInput, *, current_year: int) -> Screening:
    """The automatic eligibility screening (DESIGN.md: target group, degree, Finnish, age)."""
    reasons: list[str] = []
    notes: list[str] = []
    if application.birth_year is not None:
        age = current_year - application.birth_year
        if not WORKING_AGE[0] <= age <= WORKING_AGE[1]:
            reasons.append("age_outside_working_age")
    else:
        notes.append("age_not_given")
    if application.role is Role.MENTOR:
        if not application.employer_given:
            notes.append("employer_not_given")
        return Screening(eligible=not reasons, reasons=tuple(reasons), notes=tuple(notes))

    if application.education_level < MIN_MENTEE_DEGREE:
        reasons.append("degree_below_bachelor")
    finnish = language_level(application.languages, "fi")
    if finnish is None:
        reasons.append("finnish_missing")
    elif CEFR_ORDER.index(finnish) < CEFR_ORDER.index(MIN_MENTEE_FINNISH):
        reasons.append("finnish_below_a2")
    if application.identifies_as_woman is False:
        reasons.append("not_in_target_group_gender")
    if application.immigrant_background is False:
        reasons.append("not_in_target_group_background")
    elif application.immigrant_background is None:
        notes.append("background_not_asked")
    return Screening(eligible=not reasons, reasons=tuple(reasons), notes=tuple(notes))
