"""Group meetings, trainings, invitations, RSVP, attendance, reminders and the iCalendar
feeds of the scheduling service, on real NATS and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from icalendar import Calendar

from shared.commands import (
    CalendarFeed,
    CommandRejected,
    CreateGroupMeeting,
    CreateTraining,
    GetSchedule,
    RecordAttendance,
    Rsvp,
)
from tests.e2e.test_scheduling_cycle import START, Sim, at
from tests.helpers import count

KICK_OFF = (at(3, 4, 17), at(3, 4, 19))  # winter time, UTC+2
MIDWAY = (at(5, 6, 17), at(5, 6, 19))  # summer time, UTC+3
CLOSING = (at(10, 24, 17), at(10, 24, 19))
TRAINING = (at(4, 10, 9), at(4, 10, 12))


@pytest.fixture
def sim(stack, nc, db, tmp_path) -> Sim:
    return Sim.started(stack, nc, db, tmp_path, START)


async def refused(sim: Sim, command: Any) -> tuple[str, str | None]:
    with pytest.raises(CommandRejected) as error:
        await sim.command(command)
    return error.value.code, error.value.field


def events_of(ics: str) -> dict[str, Any]:
    feed = Calendar.from_ical(ics.encode())
    return {str(e["uid"]).split("@")[0]: e for e in feed.walk("VEVENT")}


async def test_group_meetings_trainings_and_their_calendars(sim: Sim, db) -> None:
    await sim.open_cycle()
    pair = await sim.form_pair()
    mentee, mentor = await db.fetchrow(
        "SELECT mentee_id, mentor_id FROM scheduling.pairs WHERE pair_id = $1", pair
    )

    def group(kind: str, when: tuple[datetime, datetime], **where: Any) -> CreateGroupMeeting:
        return CreateGroupMeeting(
            cycle_id=sim.cycle,
            kind=kind,
            starts_at=when[0],
            ends_at=when[1],
            **(where or {"place": "Kulttuurikeskus Caisa, Helsinki"}),
        )

    kick_off = (await sim.command(group("kick_off", KICK_OFF)))["id"]
    midway = (await sim.command(group("midway", MIDWAY, online_url="https://meet.example/x")))["id"]
    closing = await sim.command(group("closing", CLOSING))
    assert closing["invited"] == 2
    training = await sim.command(
        CreateTraining(
            title="Palkkaneuvottelu, salary negotiation",
            starts_at=TRAINING[0],
            ends_at=TRAINING[1],
            online_url="https://meet.example/training",
            capacity=1,
        )
    )

    # Bad input names the field; nothing is stored.
    assert await refused(sim, group("kick_off", KICK_OFF)) == ("already_planned", "kind")
    assert await refused(sim, group("midway", (MIDWAY[1], MIDWAY[0]))) == (
        "ends_before_start",
        "ends_at",
    )
    assert await refused(sim, group("midway", (at(2, 1), at(2, 1, 14)))) == (
        "in_the_past",
        "starts_at",
    )
    assert await refused(
        sim,
        CreateGroupMeeting(
            cycle_id=sim.cycle, kind="midway", starts_at=MIDWAY[0], ends_at=MIDWAY[1]
        ),
    ) == ("no_place", "place")
    assert await refused(
        sim,
        CreateGroupMeeting(
            cycle_id=uuid4(), kind="midway", starts_at=MIDWAY[0], ends_at=MIDWAY[1], place="x"
        ),
    ) == ("unknown_cycle", "cycle_id")
    assert await count(db, "scheduling.group_meetings") == 3

    # The cycle's feed: its group meetings (and the training within its dates), at the right
    # times on both sides of the change to summer time, in the language asked for.
    cycle_feed = events_of(
        (await sim.command(CalendarFeed(cycle_id=sim.cycle, language="fi")))["ics"]
    )
    assert set(cycle_feed) == {kick_off, midway, closing["id"], training["id"]}
    for uid, (starts, ends) in ((kick_off, KICK_OFF), (midway, MIDWAY), (closing["id"], CLOSING)):
        assert cycle_feed[uid].decoded("dtstart") == starts
        assert cycle_feed[uid].decoded("dtend") == ends
        assert str(cycle_feed[uid]["dtstart"].params["TZID"]) == "Europe/Helsinki"
    assert cycle_feed[kick_off].decoded("dtstart").utcoffset() == timedelta(hours=2)
    assert cycle_feed[midway].decoded("dtstart").utcoffset() == timedelta(hours=3)
    assert str(cycle_feed[kick_off]["summary"]) == "Aloitustapaaminen"
    assert str(cycle_feed[midway]["location"]) == "https://meet.example/x"
    english = events_of((await sim.command(CalendarFeed(cycle_id=sim.cycle, language="en")))["ics"])
    assert str(english[kick_off]["summary"]) == "Kick-off meeting"

    # RSVP: the training has room for one; a person not invited cannot answer.
    await sim.command(Rsvp(event_id=UUID(training["id"]), person_id=mentee, answer="yes"))
    assert await refused(
        sim, Rsvp(event_id=UUID(training["id"]), person_id=mentor, answer="yes")
    ) == ("full", "answer")
    assert await refused(sim, Rsvp(event_id=UUID(kick_off), person_id=uuid4(), answer="yes")) == (
        "not_invited",
        "person_id",
    )
    assert await refused(sim, Rsvp(event_id=uuid4(), person_id=mentee, answer="yes")) == (
        "unknown_event",
        "event_id",
    )
    await sim.command(Rsvp(event_id=UUID(kick_off), person_id=mentor, answer="no"))

    # A person's feed: what she is invited to, less what she declined.
    def person_feed(person: UUID) -> Any:
        return sim.command(CalendarFeed(person_id=person, language="sv"))

    assert set(events_of((await person_feed(mentee))["ics"])) == {
        kick_off,
        midway,
        closing["id"],
        training["id"],
    }
    assert set(events_of((await person_feed(mentor))["ics"])) == {
        midway,
        closing["id"],
        training["id"],
    }
    assert set(events_of((await person_feed(uuid4()))["ics"])) == set()
    assert await refused(sim, CalendarFeed(language="fi")) == ("person_or_cycle", "person_id")

    # Attendance only once the meeting has started; reminders fire by the clock.
    attended = RecordAttendance(event_id=UUID(kick_off), person_id=mentee, attended=True)
    assert await refused(sim, attended) == ("not_started", "event_id")
    sim.move_to(at(3, 4, 18))
    await sim.caught_up()
    await sim.command(attended)
    schedule = await sim.command(GetSchedule(cycle_id=sim.cycle))
    sheet = {g["id"]: g["invited"] for g in schedule["group_meetings"]}
    assert {i["person_id"]: (i["rsvp"], i["attended"]) for i in sheet[kick_off]} == {
        str(mentee): (None, True),
        str(mentor): ("no", None),
    }
    reminders = [r for r in schedule["reminders"] if r["event_id"] == kick_off]
    assert [datetime.fromisoformat(r["due_at"]) for r in reminders] == [at(2, 25, 17), at(3, 3, 17)]
    assert all(r["fired_at"] for r in reminders)
    assert [t["id"] for t in schedule["trainings"]] == [training["id"]]
