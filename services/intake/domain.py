"""Intake's pure domain: eligibility screening and the application's life cycle.

No I/O here: functions take plain values and return decisions, so the rules are fast to
unit-test and read in one place.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
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


NOT_IN_TARGET_GROUP = "not_in_target_group"
"""The neutral stand-in for sealed reasons when no open reason says why she is ineligible."""
OPEN_CODES = frozenset(
    {
        "degree_below_bachelor",
        "finnish_missing",
        "finnish_below_a2",
        "employer_not_given",
        "coordinator_override",
        "rolled_over",
        NOT_IN_TARGET_GROUP,
    }
)
"""Screening codes that say nothing of her age, gender or background."""
SEALED_CODES = frozenset(
    {
        "age_outside_working_age",
        "age_not_given",
        "not_in_target_group_gender",
        "not_in_target_group_background",
        "background_not_asked",
    }
)
"""Codes derived from her age, gender or immigrant background (the last special-category
data under GDPR art. 9): stored only encrypted under her key, never in an event. Any code
not in `OPEN_CODES` is treated as sealed, so a new rule is sealed until declared open."""


def is_sealed(code: str) -> bool:
    return code not in OPEN_CODES


def split_sealed(codes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`(open, sealed)`, each in the order given."""
    return (
        tuple(c for c in codes if not is_sealed(c)),
        tuple(c for c in codes if is_sealed(c)),
    )


def public_reasons(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """The reasons that may be stored in clear and broadcast: the open ones, or only
    `NOT_IN_TARGET_GROUP` when sealed ones alone made her ineligible (an ineligible
    application always has a reason; which target-group rule it was stays sealed)."""
    open_codes, sealed = split_sealed(reasons)
    return open_codes if open_codes or not sealed else (NOT_IN_TARGET_GROUP,)


def unseal(public: tuple[str, ...], sealed: tuple[str, ...]) -> tuple[str, ...]:
    """Her codes for the coordinator again: the public ones without the stand-in, then the
    sealed ones (decrypted by the caller)."""
    return tuple(c for c in public if c != NOT_IN_TARGET_GROUP) + sealed


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


class CycleStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    SCREENING = "screening"
    MATCHING = "matching"
    RUNNING = "running"
    COMPLETED = "completed"


CYCLE_ORDER = tuple(CycleStatus)


def next_cycle_status(current: CycleStatus) -> CycleStatus | None:
    """A cycle moves forward one step at a time (DESIGN.md: draft → open → ... → completed)."""
    index = CYCLE_ORDER.index(current)
    return CYCLE_ORDER[index + 1] if index + 1 < len(CYCLE_ORDER) else None


@dataclass(frozen=True)
class CycleDates:
    applications_open: date
    applications_close: date
    starts_on: date
    ends_on: date


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def default_cycle_dates(
    today: date, *, application_months: tuple[int, ...], cycle_months: int
) -> CycleDates:
    """The next application window after `today` in one of the programme's months: open the
    whole month, start on the first day of the month after next, run `cycle_months`."""
    if not application_months or any(not 1 <= m <= 12 for m in application_months):
        raise ValueError("application months must be numbers 1-12")
    candidates = sorted(
        date(today.year + offset, month, 1) for offset in (0, 1) for month in application_months
    )
    opens = next(day for day in candidates if day > today)
    closes = add_months(opens, 1) - timedelta(days=1)
    starts = add_months(opens, 2)
    return CycleDates(opens, closes, starts, add_months(starts, cycle_months) - timedelta(days=1))


def check_cycle_dates(dates: CycleDates) -> str | None:
    """The reason the dates cannot be a cycle, or None."""
    if dates.applications_open > dates.applications_close:
        return "close_before_open"
    if dates.applications_close >= dates.starts_on:
        return "starts_before_close"
    if dates.starts_on >= dates.ends_on:
        return "ends_before_start"
    return None
