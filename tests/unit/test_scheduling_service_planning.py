"""The scheduling service's glue without a database: rhythms, job ids, command contracts."""

from datetime import UTC, date, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.scheduling import schedule
from services.scheduling.app import DEFINITION
from shared.commands import CalendarFeed, CreateTraining, RecordMeeting, Rsvp


def test_a_known_cycle_gives_its_dates_and_cadence() -> None:
    cycle = SimpleNamespace(
        starts_on=date(2030, 3, 1), ends_on=date(2030, 10, 31), cadence_days=31, grace_days=14
    )
    rhythm = schedule.rhythm_for(cycle, date(2030, 2, 20))
    assert (rhythm.starts_on, rhythm.ends_on, rhythm.basis) == (
        date(2030, 3, 1),
        date(2030, 10, 31),
        "cycle",
    )


@pytest.mark.parametrize(
    ("formed_on", "last_day"),
    [
        (date(2030, 2, 20), date(2030, 9, 30)),
        (date(2030, 6, 1), date(2031, 1, 31)),
        (date(2030, 12, 31), date(2031, 7, 31)),
    ],
)
def test_an_unknown_cycle_plans_eight_months_from_formation(formed_on, last_day) -> None:
    rhythm = schedule.rhythm_for(None, formed_on)
    assert (rhythm.starts_on, rhythm.ends_on, rhythm.basis) == (formed_on, last_day, "formation")
    assert rhythm.cadence_days == schedule.DEFAULT_CADENCE_DAYS


def test_job_ids_are_stable_and_midnight_is_helsinki() -> None:
    pair = uuid4()
    assert schedule.job_key("missed_check", pair, date(2030, 3, 1)) == schedule.job_key(
        "missed_check", pair, date(2030, 3, 1)
    )
    assert schedule.job_key("missed_check", pair, date(2030, 3, 1)) != schedule.job_key(
        "missed_check", pair, date(2030, 4, 1)
    )
    assert schedule.midnight(date(2030, 1, 10)) == datetime(2030, 1, 9, 22, tzinfo=UTC)
    assert schedule.midnight(date(2030, 7, 10)) == datetime(2030, 7, 9, 21, tzinfo=UTC)


def test_command_contracts() -> None:
    assert RecordMeeting.subject() == "womento.cmd.scheduling.record_meeting"
    assert CalendarFeed.subject() == "womento.cmd.scheduling.calendar_feed"
    assert Rsvp.subject() == "womento.cmd.scheduling.rsvp"
    # The service, not the contract, refuses a bad length (with its own reason code).
    RecordMeeting(
        pair_id=uuid4(),
        held_on=date(2030, 3, 1),
        minutes=-5,
        mode="online",
        logged_by="coordinator",
    )
    with pytest.raises(ValidationError):
        RecordMeeting(
            pair_id=uuid4(), held_on=date(2030, 3, 1), minutes=5, mode="phone", logged_by="me"
        )
    with pytest.raises(ValidationError):
        CreateTraining(
            title="x",
            starts_at=datetime(2030, 3, 1, 10, tzinfo=UTC),
            ends_at=datetime(2030, 3, 1, 12, tzinfo=UTC),
            online_url="http://insecure.example",
            capacity=5,
        )
    with pytest.raises(ValidationError):
        CalendarFeed(cycle_id=uuid4(), language="Finnish")


def test_the_service_answers_every_scheduling_command() -> None:
    names = {route.command.__name__ for route in DEFINITION.commands}
    assert names == {
        "RecordMeeting",
        "CreateGroupMeeting",
        "CreateTraining",
        "UpdateScheduledEvent",
        "CancelScheduledEvent",
        "Rsvp",
        "RecordAttendance",
        "GetSchedule",
        "CalendarFeed",
        "FormSmallGroups",
        "ScheduleSummary",
        "ExportFromScheduling",
    }
    assert DEFINITION.workers
