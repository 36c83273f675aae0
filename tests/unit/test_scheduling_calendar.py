"""iCalendar feeds: parsed back with the `icalendar` package, times right on both sides of a
daylight-saving change, VTIMEZONE rules equal to the tz database, escaping, folding, UIDs."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component, Timezone

from services.scheduling import calendar as feeds
from services.scheduling.calendar import CalendarEvent, calendar_feed, helsinki_vtimezone

HELSINKI = ZoneInfo("Europe/Helsinki")
EDITED = datetime(2027, 2, 1, 9, 30, tzinfo=HELSINKI)


def event(
    uid: str | UUID = "meeting-1",
    starts_at: datetime = datetime(2027, 3, 28, 10, 0, tzinfo=HELSINKI),
    hours: float = 2,
    **changes: Any,
) -> CalendarEvent:
    values: dict[str, Any] = {
        "summary": "Pair meeting",
        "description": None,
        "location": None,
        "url": None,
        "last_modified": EDITED,
    }
    values.update(changes)
    return CalendarEvent(
        uid=uid, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours), **values
    )


def parse(feed: bytes) -> Calendar:
    return Calendar.from_ical(feed)


def vevents(feed: bytes) -> list[Any]:
    return list(parse(feed).walk("VEVENT"))


def test_times_on_the_days_clocks_change() -> None:
    spring = event("spring", datetime(2027, 3, 28, 10, 0, tzinfo=HELSINKI))  # EEST, UTC+3
    autumn = event("autumn", datetime(2027, 10, 31, 10, 0, tzinfo=HELSINKI))  # EET, UTC+2
    feed = calendar_feed("Spring 2027", [autumn, spring], "en")
    text = feed.decode()
    assert "DTSTART;TZID=Europe/Helsinki:20270328T100000\r\n" in text
    assert "DTEND;TZID=Europe/Helsinki:20270328T120000\r\n" in text
    assert "DTSTART;TZID=Europe/Helsinki:20271031T100000\r\n" in text
    first, second = vevents(feed)
    assert first.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert first.decoded("DTEND").astimezone(UTC) == datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
    assert second.decoded("DTSTART").astimezone(UTC) == datetime(2027, 10, 31, 8, 0, tzinfo=UTC)


def test_instants_given_in_utc_are_written_in_helsinki_time() -> None:
    feed = calendar_feed("x", [event(starts_at=datetime(2027, 7, 1, 12, 0, tzinfo=UTC))], "fi")
    assert "DTSTART;TZID=Europe/Helsinki:20270701T150000\r\n" in feed.decode()
    (only,) = vevents(feed)
    assert only.decoded("DTSTART") == datetime(2027, 7, 1, 12, 0, tzinfo=UTC)


def test_calendar_properties() -> None:
    feed = calendar_feed("Kevät 2027 – Womento", [event()], "fi")
    cal = parse(feed)
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == feeds.PRODID
    assert str(cal["X-WR-CALNAME"]) == "Kevät 2027 – Womento"
    assert str(cal["NAME"]) == "Kevät 2027 – Womento"
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Helsinki"
    assert feed.startswith(b"BEGIN:VCALENDAR\r\n")
    assert feed.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in feed.replace(b"\r\n", b"")  # every line ends in CRLF


def test_the_vtimezone_has_yearly_rules() -> None:
    (tz,) = parse(calendar_feed("x", [event()], "en")).walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/Helsinki"
    (daylight,) = tz.walk("DAYLIGHT")
    (standard,) = tz.walk("STANDARD")
    assert daylight["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"
    assert standard["RRULE"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"
    assert daylight.decoded("TZOFFSETTO") == timedelta(hours=3)
    assert standard.decoded("TZOFFSETTO") == timedelta(hours=2)


def offsets_match_tzdata(tz: Component, zone: ZoneInfo, years: range) -> None:
    """The VTIMEZONE read on its own (not looked up by name) gives the tz database's offsets:
    at noon UTC every day, and every quarter of an hour on the days around each change."""
    assert isinstance(tz, Timezone)
    own = tz.to_tz(lookup_tzid=False)
    assert not isinstance(own, ZoneInfo)
    day = datetime(years.start, 1, 1, 12, tzinfo=UTC)
    instants = []
    while day.year < years.stop:
        instants.append(day)
        if (
            day.astimezone(zone).utcoffset()
            != (day + timedelta(days=1)).astimezone(zone).utcoffset()
        ):
            instants += [day + timedelta(minutes=15 * k) for k in range(1, 4 * 24)]
        day += timedelta(days=1)
    for instant in instants:
        assert instant.astimezone(own).utcoffset() == instant.astimezone(zone).utcoffset(), instant


def test_the_vtimezone_agrees_with_the_tz_database() -> None:
    (tz,) = parse(calendar_feed("x", [event()], "en")).walk("VTIMEZONE")
    offsets_match_tzdata(tz, HELSINKI, range(1997, 2061))


def test_should_the_rules_change_every_change_comes_from_the_tz_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds, "_rules_match_tzdata", lambda first, last: False)
    tz = helsinki_vtimezone(date(2027, 3, 1), date(2027, 10, 31))
    text = tz.to_ical().decode()
    assert "RRULE" not in text
    # The spring change is at 03:00 in the offset before it (RFC 5545 3.6.5), not 04:00.
    (daylight,) = tz.walk("DAYLIGHT")
    assert daylight.decoded("DTSTART") == datetime(2026, 3, 29, 3, 0)
    offsets_match_tzdata(Timezone.from_ical(tz.to_ical()), HELSINKI, range(2026, 2029))


def test_a_zone_whose_rules_changed() -> None:
    # Brazil dropped daylight saving in 2019: the listed changes follow the tz database.
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    tz = feeds.vtimezone_from_tzdata("America/Sao_Paulo", sao_paulo, 2017, 2021)
    offsets_match_tzdata(Timezone.from_ical(tz.to_ical()), sao_paulo, range(2017, 2022))


def test_dtstamp_and_last_modified_are_utc() -> None:
    feed = calendar_feed("x", [event()], "en")
    assert "DTSTAMP:20270201T073000Z\r\n" in feed.decode()
    (only,) = vevents(feed)
    assert only.decoded("DTSTAMP") == EDITED
    assert only.decoded("LAST-MODIFIED") == EDITED


def test_uids_are_stable_and_unique() -> None:
    meeting = UUID("6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
    feed = calendar_feed(
        "x",
        [event(meeting), event("training-7@womento", datetime(2027, 4, 1, 9, tzinfo=HELSINKI))],
        "en",
    )
    assert [str(e["UID"]) for e in vevents(feed)] == [
        f"{meeting}@womento",
        "training-7@womento",
    ]
    assert calendar_feed("x", [event(meeting)], "en") == calendar_feed("x", [event(meeting)], "en")
    with pytest.raises(ValueError):
        calendar_feed("x", [event("a"), event("a@womento")], "en")


def test_events_are_ordered_whatever_the_input_order() -> None:
    a = event("a", datetime(2027, 5, 1, 9, tzinfo=HELSINKI))
    b = event("b", datetime(2027, 4, 1, 9, tzinfo=HELSINKI))
    assert calendar_feed("x", [a, b], "en") == calendar_feed("x", [b, a], "en")
    assert [str(e["UID"]) for e in vevents(calendar_feed("x", [a, b], "en"))] == [
        "b@womento",
        "a@womento",
    ]


def test_text_escaping_round_trips() -> None:
    summary = "Kick-off; Helsinki, room 2"
    description = 'Bring: CV, cover letter; "questions"\nSecond line \\ with a backslash'
    location = "Kalevankatu 16, 00100 Helsinki"
    feed = calendar_feed(
        "x", [event(summary=summary, description=description, location=location)], "en"
    )
    text = feed.decode()
    assert "SUMMARY;LANGUAGE=en:Kick-off\\; Helsinki\\, room 2\r\n" in text
    (only,) = vevents(feed)
    assert str(only["SUMMARY"]) == summary
    assert str(only["DESCRIPTION"]) == description
    assert str(only["LOCATION"]) == location
    assert only["SUMMARY"].params["LANGUAGE"] == "en"


def test_long_lines_are_folded_at_75_octets_and_unfold_back() -> None:
    description = "Ääkkösiä ja pitkä kuvaus tapaamisesta, jossa käydään läpi työnhaku. " * 8
    feed = calendar_feed("Kevät", [event(description=description)], "fi")
    assert max(len(line) for line in feed.split(b"\r\n")) <= 75
    (only,) = vevents(feed)
    assert str(only["DESCRIPTION"]) == description


def test_an_online_event_has_its_link_as_location_and_url() -> None:
    link = "https://meet.example.org/womento/abc?x=1,2"
    feed = calendar_feed("x", [event(url=link)], "en")
    (only,) = vevents(feed)
    assert str(only["LOCATION"]) == link
    assert str(only["URL"]) == link
    both = vevents(calendar_feed("x", [event(url=link, location="Room 2")], "en"))[0]
    assert str(both["LOCATION"]) == "Room 2"


def test_an_empty_feed_is_still_a_valid_calendar() -> None:
    cal = parse(calendar_feed("Nothing yet", [], "en"))
    assert list(cal.walk("VEVENT")) == []
    assert len(list(cal.walk("VTIMEZONE"))) == 1


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        event(starts_at=datetime(2027, 3, 28, 10, 0))
    with pytest.raises(ValueError):
        event(hours=0)
    with pytest.raises(ValueError):
        event(last_modified=datetime(2027, 1, 1))
    with pytest.raises(ValueError):
        event(uid=" ")
    with pytest.raises(ValueError):
        calendar_feed("x", [event()], "Finnish")
    with pytest.raises(ValueError):
        calendar_feed(" ", [event()], "fi")
