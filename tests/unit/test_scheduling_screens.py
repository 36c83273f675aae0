"""Pure helpers behind the schedule screens, the reminder e-mail and the demo's history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from starlette.datastructures import FormData

from services.intake.mail import render_mail
from services.intake.reminders import reminder_context
from services.intake.web.schedule import calendar_months, invitations_of, parse_training
from services.scheduling.commands import missed_since_last_meeting
from services.scheduling.demo import _meeting_days
from shared.events import ReminderDue

RECIPIENT = {"given_name": "Amina", "family_name": "Hassan", "email": "a@example.org"}


def planned(month: str, *, held: bool = False, missed: bool = False) -> dict[str, object]:
    return {
        "month": month,
        "due_on": month[:8] + "28",
        "held": held,
        "missed_at": "2030-04-01T00:00:00+03:00" if missed else None,
    }


def test_missed_months_count_only_after_the_latest_meeting() -> None:
    months = [
        planned("2030-03-01", missed=True),
        planned("2030-04-01", held=True),
        planned("2030-05-01", missed=True),
        planned("2030-06-01"),
    ]
    assert missed_since_last_meeting(months, []) == ["2030-03-01", "2030-05-01"]
    assert missed_since_last_meeting(months, [{"held_on": "2030-04-10"}]) == ["2030-05-01"]
    assert missed_since_last_meeting(months, [{"held_on": "2030-06-02"}]) == []


def _state() -> dict[str, object]:
    person = str(uuid4())
    return {
        "cycle": {"starts_on": "2030-03-01", "ends_on": "2030-05-31"},
        "pairs": [
            {
                "ended_at": None,
                "planned": [
                    planned("2030-03-01", held=True),
                    planned("2030-04-01", missed=True),
                    planned("2030-05-01"),
                ],
            },
            {"ended_at": "2030-03-20T10:00:00+00:00", "planned": [planned("2030-03-01")]},
        ],
        "group_meetings": [
            {
                "id": "k",
                "kind": "kick_off",
                "starts_at": "2030-02-27T15:00:00+00:00",
                "invited": [{"person_id": person, "rsvp": None}],
            }
        ],
        "trainings": [
            # 31 March 23:30 UTC is 1 April in Helsinki: an April event.
            {
                "id": "t",
                "title": "CV",
                "starts_at": "2030-03-31T23:30:00+00:00",
                "invited": [{"person_id": person, "rsvp": "yes"}],
            },
            {"id": "x", "title": "Later", "starts_at": "2031-01-10T10:00:00+00:00", "invited": []},
        ],
        "person": person,
    }


def test_the_calendar_has_every_month_of_the_cycle_with_its_events_and_pair_tally() -> None:
    months = calendar_months(_state(), date(2030, 4, 15))
    assert [m["month"] for m in months] == ["2030-02-01", "2030-03-01", "2030-04-01", "2030-05-01"]
    feb, mar, apr, may = months
    assert [e["id"] for e in feb["events"]] == ["k"]  # the kick-off, before the cycle starts
    assert [e["id"] for e in apr["events"]] == ["t"]  # Helsinki time decides the month
    assert mar["pairs"] == {"held": 1, "missed": 0, "open": 0}  # the ended pair is left out
    assert apr["pairs"] == {"held": 0, "missed": 1, "open": 0} and apr["current"]
    assert may["pairs"] == {"held": 0, "missed": 0, "open": 1} and not may["current"]


def test_her_invitations_carry_her_answer() -> None:
    state = _state()
    mine = invitations_of(state, state["person"])  # type: ignore[arg-type]
    assert [(e["id"], e["rsvp"], e["type"]) for e in mine] == [
        ("k", None, "group_meeting"),
        ("t", "yes", "training"),
    ]
    assert invitations_of(state, uuid4()) == []


def _training_form(**change: str) -> FormData:
    fields = {
        "tr_title": "CV workshop",
        "tr_day": "2030-03-10",
        "tr_starts": "17:00",
        "tr_ends": "19:00",
        "tr_place": "",
        "tr_online_url": "https://meet.example/cv",
        "tr_capacity": "15",
    }
    return FormData({**fields, **change})


def test_the_training_form_is_read_in_helsinki_time() -> None:
    command, errors, _ = parse_training(_training_form())
    assert errors == {} and command is not None
    assert command.starts_at == datetime(2030, 3, 10, 15, 0, tzinfo=UTC)
    assert command.capacity == 15 and command.place is None


def test_the_training_form_names_each_bad_field() -> None:
    cases = {
        "tr_title": ({"tr_title": "  "}, "title_missing"),
        "tr_day": ({"tr_day": "10.3.2030"}, "invalid_date"),
        "tr_starts": ({"tr_starts": "5pm"}, "invalid_time"),
        "tr_capacity": ({"tr_capacity": "-3"}, "invalid_capacity"),
        "tr_online_url": ({"tr_online_url": "http://x.example"}, "https_only"),
    }
    for field, (change, code) in cases.items():
        command, errors, values = parse_training(_training_form(**change))
        assert command is None and errors == {field: code}, field
        assert values["tr_title"] == (change.get("tr_title") or "CV workshop").strip()


def test_the_reminder_mail_shows_helsinki_times_in_her_language() -> None:
    event = ReminderDue(
        reminder_id=uuid4(),
        person_id=uuid4(),
        event_id=uuid4(),
        event_kind="group_meeting",
        meeting_kind="kick_off",
        cycle_id=uuid4(),
        starts_at=datetime(2030, 3, 4, 15, 0, tzinfo=UTC),
        ends_at=datetime(2030, 3, 4, 17, 0, tzinfo=UTC),
        place="Caisa",
    )
    context = reminder_context(event, "Spring 2030")
    assert (context["day"], context["starts"], context["ends"]) == ("2030-03-04", "17:00", "19:00")
    finnish = render_mail("event_reminder", "fi", RECIPIENT, context)
    assert "Aloitustapaaminen on 4.3.2030 klo 17:00–19:00" in finnish.text
    assert "Paikka: Caisa" in finnish.text
    swedish = render_mail("event_reminder", "sv", RECIPIENT, context)
    assert "Startmöte är 4 mars 2030 kl. 17:00–19:00" in swedish.text


def test_the_demo_history_has_active_fading_and_silent_pairs() -> None:
    start, today = date(2030, 3, 10), date(2030, 5, 25)
    assert _meeting_days(0, start, today) == [
        date(2030, 3, 13),
        date(2030, 4, 12),
        date(2030, 5, 12),
    ]
    assert _meeting_days(2, start, today) == [date(2030, 3, 14)]
    assert _meeting_days(3, start, today) == []
