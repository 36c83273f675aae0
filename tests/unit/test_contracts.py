"""The event contracts: names, subjects, immutability, round trips, no personal data."""

from __future__ import annotations

import re
import typing
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from pydantic import AwareDatetime, BaseModel, ValidationError

from shared.events import (
    EVENT_TYPES,
    SERVICES,
    ApplicantAccepted,
    ApplicantWaitlisted,
    ApplicationReceived,
    ApplicationScreened,
    ApplicationWithdrawn,
    Cefr,
    CycleClosed,
    CycleOpened,
    Event,
    LanguageSkill,
    MatchingProfile,
    MatchProposed,
    MeetingHeld,
    MeetingMissed,
    MeetingMode,
    Outcome,
    OutcomeRecorded,
    PairAtRisk,
    PairEnded,
    PairFormed,
    PersonErased,
    PersonErasedInFeedback,
    PersonErasedInMatching,
    PersonErasedInScheduling,
    ReminderDue,
    Role,
    ScheduledEventChanged,
    SurveyCompleted,
    SurveyInvitationDue,
    SurveyKind,
)

NOW = datetime(2025, 5, 2, 14, 0, tzinfo=UTC)
SUBJECT = re.compile(r"^womento\.(intake|matching|scheduling|feedback)\.[a-z_]+$")
PERSONAL_FIELD_NAMES = frozenset(
    {
        "name",
        "email",
        "phone",
        "first_name",
        "family_name",
        "given_name",
        "address",
        "goals",
        "notes",
        "text",
    }
)


def profile(**overrides: Any) -> dict[str, Any]:
    return {
        "role": Role.MENTOR,
        "isco_code": "2512",
        "education_level": 7,
        "education_field": "0613",
        "languages": (
            LanguageSkill(language="fi", level=Cefr.B2),
            LanguageSkill(language="en", level=Cefr.C1),
        ),
        "region": "FI-18",
        "remote_ok": False,
        "topics": ("cv", "networking"),
        "capacity": 3,
        "employer_key": "ab" * 16,
    } | overrides


FACTORIES: dict[type[Event], Any] = {
    CycleOpened: lambda: CycleOpened(
        cycle_id=uuid4(),
        programme_id=uuid4(),
        applications_open=date(2025, 1, 1),
        applications_close=date(2025, 1, 31),
        starts_on=date(2025, 2, 15),
        ends_on=date(2025, 8, 15),
    ),
    CycleClosed: lambda: CycleClosed(cycle_id=uuid4()),
    PersonErased: lambda: PersonErased(erasure_id=uuid4(), person_id=uuid4()),
    PersonErasedInMatching: lambda: PersonErasedInMatching(erasure_id=uuid4()),
    PersonErasedInScheduling: lambda: PersonErasedInScheduling(erasure_id=uuid4()),
    PersonErasedInFeedback: lambda: PersonErasedInFeedback(erasure_id=uuid4()),
    ApplicationReceived: lambda: ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=Role.MENTEE,
        submitted_at=NOW,
    ),
    ApplicationScreened: lambda: ApplicationScreened(
        application_id=uuid4(),
        person_id=uuid4(),
        eligible=False,
        reason_codes=("too_late", "missing_language"),
    ),
    ApplicantAccepted: lambda: ApplicantAccepted(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        profile=MatchingProfile(**profile()),
    ),
    ApplicantWaitlisted: lambda: ApplicantWaitlisted(
        application_id=uuid4(), person_id=uuid4(), cycle_id=uuid4(), rolls_over=True
    ),
    ApplicationWithdrawn: lambda: ApplicationWithdrawn(
        application_id=uuid4(), person_id=uuid4(), cycle_id=uuid4()
    ),
    MatchProposed: lambda: MatchProposed(
        run_id=uuid4(), cycle_id=uuid4(), pairs=12, unmatched_mentees=2
    ),
    PairFormed: lambda: PairFormed(
        pair_id=uuid4(), cycle_id=uuid4(), mentee_id=uuid4(), mentor_id=uuid4(), score=0.82
    ),
    PairEnded: lambda: PairEnded(pair_id=uuid4(), cycle_id=uuid4(), reason_code="mentee_employed"),
    MeetingHeld: lambda: MeetingHeld(
        meeting_id=uuid4(),
        pair_id=uuid4(),
        cycle_id=uuid4(),
        held_on=date(2025, 3, 4),
        minutes=60,
        mode=MeetingMode.IN_PERSON,
        topic_codes=("interview",),
    ),
    MeetingMissed: lambda: MeetingMissed(pair_id=uuid4(), cycle_id=uuid4(), month=date(2025, 4, 1)),
    PairAtRisk: lambda: PairAtRisk(
        pair_id=uuid4(), cycle_id=uuid4(), last_meeting_on=None, flagged_at=NOW
    ),
    ReminderDue: lambda: ReminderDue(
        reminder_id=uuid4(),
        person_id=uuid4(),
        event_id=uuid4(),
        event_kind="training",
        title="CV workshop",
        starts_at=NOW,
        ends_at=NOW,
        online_url="https://meet.example.org/cv",
    ),
    ScheduledEventChanged: lambda: ScheduledEventChanged(
        event_id=uuid4(),
        person_id=uuid4(),
        change="moved",
        sequence=1,
        event_kind="group_meeting",
        meeting_kind="midway",
        cycle_id=uuid4(),
        starts_at=NOW,
        ends_at=NOW,
        place="Kalevankatu 16, Helsinki",
        previous_starts_at=NOW,
    ),
    SurveyInvitationDue: lambda: SurveyInvitationDue(
        invitation_id=uuid4(),
        survey_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        kind=SurveyKind.MIDWAY,
        closes_on=date(2025, 5, 1),
    ),
    SurveyCompleted: lambda: SurveyCompleted(
        response_id=uuid4(),
        survey_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        kind=SurveyKind.FOLLOW_UP,
        completed_at=NOW,
    ),
    OutcomeRecorded: lambda: OutcomeRecorded(
        person_id=uuid4(),
        cycle_id=uuid4(),
        outcome=Outcome.EMPLOYED_OWN_FIELD,
        source="survey",
        recorded_at=NOW,
    ),
}

ALL_EVENTS = sorted(EVENT_TYPES.values(), key=lambda cls: cls.__name__)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_registered_event_has_a_factory() -> None:
    assert set(FACTORIES) == set(EVENT_TYPES.values())


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_type_name_and_subject(cls: type[Event]) -> None:
    assert cls.producer in SERVICES
    assert cls.type_name() == f"womento.{cls.producer}.{snake(cls.__name__)}.v{cls.version}"
    match = SUBJECT.fullmatch(cls.subject())
    assert match is not None, cls.subject()
    assert match.group(1) == cls.producer
    assert cls.type_name().startswith(cls.subject() + ".v")


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_events_are_frozen(cls: type[Event]) -> None:
    event = FACTORIES[cls]()
    field = next(iter(cls.model_fields))
    with pytest.raises(ValidationError):
        setattr(event, field, getattr(event, field))
    assert cls.model_config.get("frozen") is True


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_events_forbid_extra_fields(cls: type[Event]) -> None:
    data = FACTORIES[cls]().model_dump(mode="json")
    with pytest.raises(ValidationError, match="extra"):
        cls.model_validate(data | {"given_name": "Päivi"})


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_json_round_trip(cls: type[Event]) -> None:
    event = FACTORIES[cls]()
    assert type(event) is cls
    dumped = event.model_dump(mode="json")
    again = cls.model_validate(dumped)
    assert again == event
    assert again.model_dump(mode="json") == dumped
    assert cls.model_validate_json(event.model_dump_json()) == event


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model reachable from a field annotation (tuples, unions, optionals)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_nested_models(arg))
    return found


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        for nested in _nested_models(info.annotation):
            paths.extend(_field_paths(nested, f"{path}."))
    return paths


def test_walker_reaches_nested_models() -> None:
    paths = _field_paths(ApplicantAccepted)
    assert "profile.isco_code" in paths
    assert "profile.languages.level" in paths
    assert _nested_models(tuple[LanguageSkill, ...] | None) == [LanguageSkill]


def test_personal_data_check_would_catch_a_leak() -> None:
    """The check below is not vacuous: the intake API models it walks do hold personal data."""
    from services.intake.schemas import ApplicationCreate

    paths = _field_paths(ApplicationCreate)
    flagged = {p for p in paths if p.rsplit(".", 1)[-1] in PERSONAL_FIELD_NAMES}
    assert {"contact.given_name", "contact.family_name", "contact.email", "profile.goals"} <= (
        flagged
    )


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_no_field_is_named_like_personal_data(cls: type[Event]) -> None:
    leaks = [path for path in _field_paths(cls) if path.rsplit(".", 1)[-1] in PERSONAL_FIELD_NAMES]
    assert leaks == []


def test_matching_profile_accepts_a_valid_profile() -> None:
    p = MatchingProfile(**profile())
    assert p.capacity == 3
    assert p.languages[0].level is Cefr.B2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("education_level", 9),
        ("education_level", -1),
        ("capacity", 0),
        ("capacity", 6),
        ("isco_code", "12345"),
        ("isco_code", "12a"),
        ("education_field", "1"),
        ("region", "FI-18-extra"),
    ],
)
def test_matching_profile_rejects_out_of_range(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        MatchingProfile(**profile(**{field: value}))
    assert info.value.errors()[0]["loc"] == (field,)


def test_language_skill_rejects_bad_codes() -> None:
    with pytest.raises(ValidationError):
        LanguageSkill(language="Finnish", level=Cefr.B1)
    with pytest.raises(ValidationError):
        LanguageSkill(language="fi", level="B3")  # type: ignore[arg-type]


def test_event_types_registry_is_consistent() -> None:
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES.values())) == 22
    for key, cls in EVENT_TYPES.items():
        assert issubclass(cls, Event)
        assert cls.type_name() == key
    subjects = [cls.subject() for cls in EVENT_TYPES.values()]
    assert len(subjects) == len(set(subjects))


def test_version_two_subclass_keeps_event_name() -> None:
    class ApplicationReceivedV2(ApplicationReceived):
        version: ClassVar[int] = 2

    assert ApplicationReceivedV2.event_name() == "application_received"
    assert ApplicationReceivedV2.subject() == ApplicationReceived.subject()
    assert ApplicationReceivedV2.type_name() == "womento.intake.application_received.v2"
    assert ApplicationReceived.type_name() == "womento.intake.application_received.v1"
    assert ApplicationReceived.version == 1
    # defining a subclass does not register it
    assert ApplicationReceivedV2.type_name() not in EVENT_TYPES


def test_payload_cannot_override_class_level_attributes() -> None:
    data = FACTORIES[PairFormed]().model_dump(mode="json")
    with pytest.raises(ValidationError):
        PairFormed.model_validate(data | {"version": 2})
    with pytest.raises(ValidationError):
        PairFormed.model_validate(data | {"producer": "intake"})


def _timestamp_fields() -> list[tuple[type[Event], str]]:
    return [
        (cls, name)
        for cls in ALL_EVENTS
        for name, info in cls.model_fields.items()
        if {datetime, AwareDatetime} & {info.annotation, *typing.get_args(info.annotation)}
    ]


def test_timestamp_fields_are_found() -> None:
    found = {(cls.__name__, name) for cls, name in _timestamp_fields()}
    assert ("ApplicationReceived", "submitted_at") in found
    assert ("PairAtRisk", "flagged_at") in found
    assert ("OutcomeRecorded", "recorded_at") in found


@pytest.mark.parametrize(
    ("cls", "field"),
    [pytest.param(cls, name, id=f"{cls.__name__}.{name}") for cls, name in _timestamp_fields()],
)
def test_event_timestamps_must_be_timezone_aware(cls: type[Event], field: str) -> None:
    data = FACTORIES[cls]().model_dump(mode="json")
    with pytest.raises(ValidationError):
        cls.model_validate(data | {field: "2025-05-02T14:00:00"})
