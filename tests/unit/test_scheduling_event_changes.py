"""Changing and cancelling group meetings and trainings: the pure rules (who may change
what, reminder re-planning, open pair deadlines), the feed's SEQUENCE / STATUS:CANCELLED and
all-day deadlines parsed back with `icalendar`, and the change e-mail in three languages."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from services.intake.event_changes import change_context, dedupe_key
from services.intake.mail import render_mail
from services.scheduling import domain
from services.scheduling.calendar import AllDayEvent, CalendarEvent, calendar_feed
from services.scheduling.commands import deadline_day
from shared.commands import CancelScheduledEvent, UpdateScheduledEvent
from shared.events import ScheduledEventChanged

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
STARTS = datetime(2027, 3, 20, 17, 0, tzinfo=HELSINKI)


# --- rules ----------------------------------------------------------------------------------


def test_an_ended_event_cannot_be_changed_but_a_running_or_future_one_can() -> None:
    assert domain.change_problem(NOW - timedelta(minutes=1), False, NOW) == "ended"
    assert domain.change_problem(NOW, False, NOW) == "ended"
    assert domain.change_problem(NOW + timedelta(minutes=1), False, NOW) is None
    assert domain.change_problem(NOW + timedelta(days=9), True, NOW) == "cancelled"


def test_capacity_not_below_the_yes_answers() -> None:
    assert domain.capacity_problem(3, 4) == "below_yes_answers"
    assert domain.capacity_problem(4, 4) is None
    assert domain.capacity_problem(10, 0) is None


def test_moving_later_drops_the_unfired_reminders_and_plans_the_new_times() -> None:
    old = domain.reminder_times(STARTS, NOW)  # 13th and 19th March, 17:00 Helsinki
    assert len(old) == 2
    later = STARTS + timedelta(days=14)
    drop, plan = domain.replanned_reminders(old, later, NOW)
    assert drop == old
    assert plan == domain.reminder_times(later, NOW)
    assert [at.astimezone(HELSINKI) for at in plan] == [
        datetime(2027, 3, 27, 17, 0, tzinfo=HELSINKI),
        datetime(2027, 4, 2, 17, 0, tzinfo=HELSINKI),  # summer time: still 17:00 local
    ]


def test_a_reminder_time_already_past_is_not_planned_and_a_fired_one_is_not_touched() -> None:
    # A week-before reminder has fired (it is not among the unfired); the event moves to
    # three days from now: only the day-before reminder is planned.
    fired_week_before, day_before = domain.reminder_times(STARTS, NOW - timedelta(days=14))
    soon = NOW + timedelta(days=3)
    drop, plan = domain.replanned_reminders([day_before], soon, NOW)
    assert drop == [day_before]
    assert plan == [soon - timedelta(days=1)]
    assert fired_week_before not in drop


def test_an_unchanged_start_keeps_its_reminders() -> None:
    old = domain.reminder_times(STARTS, NOW)
    assert domain.replanned_reminders(old, STARTS, NOW) == ([], [])


def test_only_time_place_or_link_is_a_move() -> None:
    when = domain.When(STARTS, STARTS + timedelta(hours=2), "Kalevankatu 16", None)
    assert not domain.is_move(when, when)
    assert domain.is_move(when, domain.When(STARTS, when.ends_at, "Kalevankatu 18", None))
    longer = domain.When(STARTS, when.ends_at + timedelta(hours=1), "Kalevankatu 16", None)
    assert domain.is_move(when, longer)


def test_open_deadlines_are_the_months_not_held_and_not_past() -> None:
    pair = uuid4()
    plan = domain.plan_pair_meetings(pair, date(2027, 2, 1), date(2027, 2, 1), date(2027, 5, 31))
    held = [date(2027, 3, 10)]
    open_ = domain.open_deadlines(plan, held, date(2027, 3, 15))
    assert [p.due_on for p in open_] == [date(2027, 4, 30), date(2027, 5, 31)]
    # On the last day of the month its deadline is still open.
    on_the_day = domain.open_deadlines(plan, [], date(2027, 2, 28))
    assert on_the_day[0].due_on == date(2027, 2, 28)


def test_commands_refuse_bad_input_in_the_contract() -> None:
    with pytest.raises(ValueError):
        UpdateScheduledEvent(event_id=uuid4(), starts_at=STARTS, ends_at=STARTS, capacity=0)
    with pytest.raises(ValueError):
        CancelScheduledEvent(event_id=uuid4(), reason="because I say so")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ScheduledEventChanged(
            event_id=uuid4(),
            person_id=uuid4(),
            change="postponed",  # type: ignore[arg-type]
            sequence=1,
            event_kind="training",
            starts_at=STARTS,
            ends_at=STARTS,
        )


# --- the feed -------------------------------------------------------------------------------


def _timed(sequence: int = 0, cancelled: bool = False) -> CalendarEvent:
    return CalendarEvent(
        uid="training-1",
        summary="CV workshop",
        description=None,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=2),
        last_modified=NOW,
        location="Kalevankatu 16",
        sequence=sequence,
        cancelled=cancelled,
    )


def test_a_changed_event_has_a_higher_sequence_and_a_cancelled_one_keeps_its_uid() -> None:
    first = Calendar.from_ical(calendar_feed("W", [_timed()], "en")).walk("VEVENT")[0]
    moved = Calendar.from_ical(calendar_feed("W", [_timed(1)], "en")).walk("VEVENT")[0]
    gone = Calendar.from_ical(calendar_feed("W", [_timed(2, True)], "en")).walk("VEVENT")[0]
    assert first["UID"] == moved["UID"] == gone["UID"] == "training-1@womento"
    assert [int(e["SEQUENCE"]) for e in (first, moved, gone)] == [0, 1, 2]
    assert "STATUS" not in first and "STATUS" not in moved
    assert str(gone["STATUS"]) == "CANCELLED"


def test_deadlines_are_all_day_transparent_events() -> None:
    deadline = AllDayEvent(
        uid="pair-x-2027-04",
        summary="Pair meeting this month: by 30 April 2027",
        description="Agree on a meeting.",
        day=date(2027, 4, 30),
        last_modified=NOW,
    )
    feed = Calendar.from_ical(calendar_feed("W", [_timed()], "en", [deadline]))
    events = feed.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == ["training-1@womento", "pair-x-2027-04@womento"]
    day = events[1]
    assert day.decoded("DTSTART") == date(2027, 4, 30)
    assert day.decoded("DTEND") == date(2027, 5, 1)
    assert str(day["TRANSP"]) == "TRANSPARENT"
    assert b"DTSTART;VALUE=DATE:20270430" in calendar_feed("W", [], "en", [deadline])
    with pytest.raises(ValueError):
        calendar_feed("W", [], "en", [deadline, deadline])


def test_deadline_days_per_language() -> None:
    assert deadline_day(date(2027, 4, 30), "fi") == "30.4.2027"
    assert deadline_day(date(2027, 4, 30), "en") == "30 April 2027"


# --- the e-mail -----------------------------------------------------------------------------

RECIPIENT = {"given_name": "Ann", "family_name": "Lee", "email": "ann@example.org"}


def _change(change: str, **extra: object) -> ScheduledEventChanged:
    return ScheduledEventChanged(
        event_id=uuid4(),
        person_id=uuid4(),
        change=change,  # type: ignore[arg-type]
        sequence=1,
        event_kind="training",
        title="CV workshop",
        starts_at=STARTS + timedelta(days=7),
        ends_at=STARTS + timedelta(days=7, hours=2),
        place="Kalevankatu 16",
        **extra,  # type: ignore[arg-type]
    )


def test_the_moved_mail_gives_the_old_and_new_time_in_her_language() -> None:
    event = _change("moved", previous_starts_at=STARTS)
    context = change_context(event, "Spring 2027")
    english = render_mail("event_changed", "en", RECIPIENT, context)
    finnish = render_mail("event_changed", "fi", RECIPIENT, context)
    assert "has been moved" in english.text and "to 27 March 2027 at 17:00" in english.text
    assert "that was on 20 March 2027 at 17:00" in english.text
    assert "Place: Kalevankatu 16" in english.text
    assert "on siirretty" in finnish.text and "27.3.2027 klo 17:00" in finnish.text
    assert "20.3.2027 klo 17:00" in finnish.text
    assert "CANCELLED" not in english.text


def test_the_cancelled_mail_says_so_with_its_reason() -> None:
    event = _change("cancelled", reason="too_few_participants")
    context = change_context(event, "Spring 2027")
    english = render_mail("event_changed", "en", RECIPIENT, context)
    finnish = render_mail("event_changed", "fi", RECIPIENT, context)
    swedish = render_mail("event_changed", "sv", RECIPIENT, context)
    assert "has been CANCELLED" in english.text and "too few participants" in english.text
    assert "<strong>cancelled</strong>" in english.html
    assert "on PERUTTU" in finnish.text and "liian vähän osallistujia" in finnish.text
    assert "INSTÄLLT" in swedish.text
    assert "Place:" not in english.text


def test_one_mail_per_event_person_and_change() -> None:
    event = _change("moved")
    again = event.model_copy()
    later = event.model_copy(update={"sequence": 2})
    assert dedupe_key(event) == dedupe_key(again) != dedupe_key(later)
