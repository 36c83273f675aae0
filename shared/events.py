"""Versioned, frozen event contracts: facts in the past tense.

Events carry ids and codes, never names, e-mail addresses, phone numbers or
free text: those stay in intake. Every event class declares the service that
produces it and its version; `type_name()` is the CloudEvents `type`.
A change that breaks a consumer gets a new class with `version = 2`, and both
stay registered while consumers move over.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SERVICES = ("intake", "matching", "scheduling", "feedback")

IscoCode = Annotated[str, Field(pattern=r"^\d{1,4}$", description="ISCO-08 code, 1-4 digits")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="ISO 639 code")]


class Role(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class Cefr(StrEnum):
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"
    NATIVE = "native"


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Contract):
    """Base of every event. Subclasses set `producer` and, when they change shape, `version`."""

    producer: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def event_name(cls) -> str:
        """`ApplicationReceived` -> `application_received`."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__.removesuffix(f"V{cls.version}")).lower()

    @classmethod
    def subject(cls) -> str:
        return f"womento.{cls.producer}.{cls.event_name()}"

    @classmethod
    def type_name(cls) -> str:
        return f"{cls.subject()}.v{cls.version}"


class LanguageSkill(Contract):
    language: LanguageCode
    level: Cefr


class MatchingProfile(Contract):
    """What matching needs to know of one applicant; codes only, no free text."""

    role: Role
    isco_code: IscoCode
    education_level: int = Field(ge=0, le=8, description="ISCED 2011 level")
    education_field: str | None = Field(default=None, pattern=r"^\d{2,4}$", description="ISCED-F")
    languages: tuple[LanguageSkill, ...] = ()
    region: str | None = Field(default=None, max_length=8, description="Finnish region code")
    remote_ok: bool = True
    topics: tuple[str, ...] = Field(default=(), description="goal / offer topic codes")
    availability: tuple[Literal["weekday_daytime", "weekday_evening", "weekend"], ...] = Field(
        default=(), description="when she can meet; empty: not given"
    )
    capacity: int = Field(default=1, ge=1, le=5, description="mentees a mentor can take")
    employer_key: str | None = Field(
        default=None, description="keyed hash of the employer, for conflict-of-interest checks"
    )


# --- intake ---------------------------------------------------------------------------


class IntakeEvent(Event):
    producer: ClassVar[str] = "intake"


class CycleOpened(IntakeEvent):
    cycle_id: UUID
    programme_id: UUID
    applications_open: date
    applications_close: date
    starts_on: date
    ends_on: date


class CycleClosed(IntakeEvent):
    cycle_id: UUID


class ApplicationReceived(IntakeEvent):
    application_id: UUID
    person_id: UUID
    cycle_id: UUID
    role: Role
    submitted_at: AwareDatetime


class ApplicationScreened(IntakeEvent):
    application_id: UUID
    person_id: UUID
    eligible: bool
    reason_codes: tuple[str, ...] = Field(
        default=(),
        description="public codes only: degree_below_bachelor, finnish_missing, "
        "finnish_below_a2, coordinator_override, or not_in_target_group when only age, "
        "gender or background made her ineligible (which one stays sealed in intake)",
    )


class ApplicantAccepted(IntakeEvent):
    application_id: UUID
    person_id: UUID
    cycle_id: UUID
    profile: MatchingProfile


class ApplicantWaitlisted(IntakeEvent):
    application_id: UUID
    person_id: UUID
    cycle_id: UUID
    rolls_over: bool


class PersonErased(IntakeEvent):
    """A person's personal data was erased in intake (her request, a coordinator's, or the
    programme's retention); every service erases or anonymises what it holds on her, once,
    and answers with its `ErasureCompleted` (`PersonErasedIn<Service>`). Nothing about her
    but the id it erases."""

    erasure_id: UUID
    person_id: UUID


class ErasureCompleted(Event):
    """A service has erased what it held on the person of an erasure. No person id: the
    erasure id alone ties it to the request, which intake keeps without her id once done."""

    erasure_id: UUID


class ApplicationWithdrawn(IntakeEvent):
    application_id: UUID
    person_id: UUID
    cycle_id: UUID


# --- matching -------------------------------------------------------------------------


class MatchingEvent(Event):
    producer: ClassVar[str] = "matching"


class MatchProposed(MatchingEvent):
    run_id: UUID
    cycle_id: UUID
    pairs: int = Field(ge=0)
    unmatched_mentees: int = Field(ge=0)


class PairFormed(MatchingEvent):
    pair_id: UUID
    cycle_id: UUID
    mentee_id: UUID
    mentor_id: UUID
    score: float = Field(ge=0, le=1)


class PairEnded(MatchingEvent):
    pair_id: UUID
    cycle_id: UUID
    reason_code: str = Field(pattern=r"^[a-z_]{2,40}$")


# --- scheduling -----------------------------------------------------------------------


class SchedulingEvent(Event):
    producer: ClassVar[str] = "scheduling"


class MeetingMode(StrEnum):
    ONLINE = "online"
    IN_PERSON = "in_person"


class MeetingHeld(SchedulingEvent):
    meeting_id: UUID
    pair_id: UUID
    cycle_id: UUID
    held_on: date
    minutes: int = Field(gt=0, le=24 * 60)
    mode: MeetingMode
    topic_codes: tuple[str, ...] = ()


class MeetingMissed(SchedulingEvent):
    pair_id: UUID
    cycle_id: UUID
    month: date


class PairAtRisk(SchedulingEvent):
    pair_id: UUID
    cycle_id: UUID
    last_meeting_on: date | None
    flagged_at: AwareDatetime


class ReminderDue(SchedulingEvent):
    """A reminder before a group meeting or training is due for one invited person.

    Intake e-mails it in the person's language, once per `reminder_id` (derived from the
    due job and the person, so one per person and reminder time). Title, place and link are
    the coordinator's words for the event, never personal data. `meeting_kind` tells which
    group meeting (none for a training).
    """

    reminder_id: UUID
    person_id: UUID
    event_id: UUID
    event_kind: Literal["group_meeting", "training"]
    meeting_kind: Literal["kick_off", "midway", "closing"] | None = None
    cycle_id: UUID | None = None
    title: str | None = Field(default=None, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)


class ScheduledEventChanged(SchedulingEvent):
    """A group meeting or training was moved (time or place) or cancelled; one per invited
    person who has not declined it and is in a current pair.

    Intake e-mails it in her language, once per (`event_id`, `person_id`, `sequence`):
    `sequence` counts the event's changes (the iCalendar SEQUENCE). The times, place and link
    are the event's as they now stand; `reason` is a code, never free text.
    """

    event_id: UUID
    person_id: UUID
    change: Literal["moved", "cancelled"]
    sequence: int = Field(ge=1)
    event_kind: Literal["group_meeting", "training"]
    meeting_kind: Literal["kick_off", "midway", "closing"] | None = None
    cycle_id: UUID | None = None
    title: str | None = Field(default=None, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    previous_starts_at: AwareDatetime | None = None
    reason: (
        Literal["organiser_unavailable", "too_few_participants", "venue_unavailable", "other"]
        | None
    ) = None


# --- feedback -------------------------------------------------------------------------


class FeedbackEvent(Event):
    producer: ClassVar[str] = "feedback"


class SurveyKind(StrEnum):
    BASELINE = "baseline"
    MIDWAY = "midway"
    END = "end"
    FOLLOW_UP = "follow_up"


class Outcome(StrEnum):
    EMPLOYED_OWN_FIELD = "employed_own_field"
    EMPLOYED_OTHER_FIELD = "employed_other_field"
    INTERNSHIP_OR_TEMPORARY = "internship_or_temporary"
    FURTHER_EDUCATION = "further_education"
    CONFIDENCE_NO_CHANGE = "confidence_no_change"
    OTHER = "other"


class SurveyInvitationDue(FeedbackEvent):
    """A survey invitation (or its one reminder) is due for one participant.

    Intake e-mails it in the person's language with her personal survey link, once per
    (`invitation_id`, `reminder`).
    """

    invitation_id: UUID
    survey_id: UUID
    person_id: UUID
    cycle_id: UUID
    kind: SurveyKind
    closes_on: date
    reminder: bool = False


class SurveyCompleted(FeedbackEvent):
    response_id: UUID
    survey_id: UUID
    person_id: UUID
    cycle_id: UUID
    kind: SurveyKind
    completed_at: AwareDatetime


class OutcomeRecorded(FeedbackEvent):
    person_id: UUID
    cycle_id: UUID
    outcome: Outcome
    source: str = Field(pattern=r"^(survey|coordinator)$")
    recorded_at: AwareDatetime


class PersonErasedInMatching(ErasureCompleted):
    producer: ClassVar[str] = "matching"


class PersonErasedInScheduling(ErasureCompleted):
    producer: ClassVar[str] = "scheduling"


class PersonErasedInFeedback(ErasureCompleted):
    producer: ClassVar[str] = "feedback"


COMPLETIONS: dict[str, type[ErasureCompleted]] = {
    cls.producer: cls
    for cls in (PersonErasedInMatching, PersonErasedInScheduling, PersonErasedInFeedback)
}
"""Each service that erases on `PersonErased`, and the event it answers with."""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name(): cls
    for cls in (
        CycleOpened,
        CycleClosed,
        ApplicationReceived,
        ApplicationScreened,
        ApplicantAccepted,
        ApplicantWaitlisted,
        ApplicationWithdrawn,
        MatchProposed,
        PairFormed,
        PairEnded,
        MeetingHeld,
        MeetingMissed,
        PairAtRisk,
        ReminderDue,
        ScheduledEventChanged,
        SurveyInvitationDue,
        SurveyCompleted,
        OutcomeRecorded,
        PersonErased,
        PersonErasedInMatching,
        PersonErasedInScheduling,
        PersonErasedInFeedback,
    )
}
