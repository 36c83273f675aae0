"""iCalendar feeds (RFC 5545) of meetings and trainings, built with the `icalendar` package.

Pure: `calendar_feed` turns a name, events and a language into the bytes of a VCALENDAR, the
same bytes for the same input (it never reads the clock). Every event is written in
Europe/Helsinki local time (DTSTART/DTEND;TZID=Europe/Helsinki), with the VTIMEZONE that
defines it, so calendar apps show the right time on both sides of a daylight-saving change.

- UID: `<uid>@womento`, stable, so a re-fetched feed updates events instead of duplicating them.
- DTSTAMP and LAST-MODIFIED: the event's `last_modified`, in UTC. A feed has no METHOD, and
  RFC 5545 then defines DTSTAMP as when the event was last revised, which keeps the feed
  deterministic.
- LOCATION: the place, or for an online event its link (most apps show only LOCATION); the link
  is also in URL.
- SEQUENCE: how many times the event was changed; a cancelled one stays in the feed with
  STATUS:CANCELLED under the same UID and a higher SEQUENCE (RFC 5545 3.8.1.11, 3.8.7.4), which
  is how calendar apps learn of a cancellation from a subscribed feed.
- All-day events (deadlines): DTSTART;VALUE=DATE and DTEND the next day, TRANSP:TRANSPARENT.
- SUMMARY, DESCRIPTION and LOCATION carry LANGUAGE=<language>; X-WR-CALNAME and NAME the
  feed's name. Text escaping (commas, semicolons, backslashes, newlines), CRLF line ends and
  folding at 75 octets are icalendar's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from services.scheduling.domain import HELSINKI

TZID = "Europe/Helsinki"
UID_DOMAIN = "womento"
PRODID = "-//Womento//Womento scheduling//EN"
REFRESH = timedelta(hours=6)

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")

# The EU rules Finland has followed since 1996: summer time (EEST, UTC+3) from the last Sunday
# of March at 03:00 local (01:00 UTC) to the last Sunday of October at 04:00 local (01:00 UTC).
_RULES_SINCE = 1996


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    uid: str | UUID  # stable id of the meeting or training; written as "<uid>@womento"
    summary: str
    description: str | None
    starts_at: datetime  # aware
    ends_at: datetime  # aware, after starts_at
    last_modified: datetime  # aware
    location: str | None = None  # a place
    url: str | None = None  # an online meeting's link
    sequence: int = 0  # changes so far (SEQUENCE): apps replace an older copy of the event
    cancelled: bool = False  # STATUS:CANCELLED, same UID: apps strike or drop it

    def __post_init__(self) -> None:
        for name in ("starts_at", "ends_at", "last_modified"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValueError("an event ends after it starts")
        if not str(self.uid).strip():
            raise ValueError("an event needs a uid")


@dataclass(frozen=True, slots=True)
class AllDayEvent:
    """A whole day (DTSTART;VALUE=DATE, DTEND the next day, TRANSP:TRANSPARENT so that it
    does not block her day): a deadline, such as a pair's meeting of the month."""

    uid: str | UUID
    summary: str
    description: str | None
    day: date
    last_modified: datetime  # aware

    def __post_init__(self) -> None:
        if self.last_modified.tzinfo is None or self.last_modified.utcoffset() is None:
            raise ValueError("last_modified must be timezone-aware")
        if not str(self.uid).strip():
            raise ValueError("an event needs a uid")


def event_uid(uid: str | UUID) -> str:
    text = str(uid)
    return text if text.endswith("@" + UID_DOMAIN) else f"{text}@{UID_DOMAIN}"


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)  # March and October both have 31 days
    return day - timedelta(days=(day.weekday() - 6) % 7)


def _rules_match_tzdata(first_year: int, last_year: int) -> bool:
    """Whether the EU rules give the Helsinki offsets of the tz database in these years."""
    for year in range(first_year, last_year + 1):
        spring = datetime.combine(_last_sunday(year, 3), datetime.min.time(), tzinfo=UTC)
        autumn = datetime.combine(_last_sunday(year, 10), datetime.min.time(), tzinfo=UTC)
        checks = (
            (datetime(year, 1, 15, tzinfo=UTC), 2),
            (spring + timedelta(minutes=59), 2),  # 00:59 UTC: still EET
            (spring + timedelta(hours=1), 3),  # 01:00 UTC: EEST
            (datetime(year, 7, 15, tzinfo=UTC), 3),
            (autumn + timedelta(minutes=59), 3),
            (autumn + timedelta(hours=1), 2),
            (datetime(year, 12, 15, tzinfo=UTC), 2),
        )
        for instant, hours in checks:
            if instant.astimezone(HELSINKI).utcoffset() != timedelta(hours=hours):
                return False
    return True


def helsinki_vtimezone(first: date, last: date) -> Timezone:
    """The VTIMEZONE of Europe/Helsinki for events between `first` and `last`.

    The compact form with yearly RRULEs (what calendar apps themselves publish) when the rules
    agree with the installed tz database over those years (always, as of 2026); otherwise,
    should the rules ever change, every change of offset in those years listed from the tz
    database (`vtimezone_from_tzdata`).
    """
    if first.year >= _RULES_SINCE and _rules_match_tzdata(first.year - 1, last.year + 1):
        daylight = TimezoneDaylight()
        daylight.add("tzname", "EEST")
        daylight.add("tzoffsetfrom", timedelta(hours=2))
        daylight.add("tzoffsetto", timedelta(hours=3))
        daylight.add("dtstart", datetime(_RULES_SINCE, 3, 31, 3, 0))
        daylight.add("rrule", vRecur({"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"}))
        standard = TimezoneStandard()
        standard.add("tzname", "EET")
        standard.add("tzoffsetfrom", timedelta(hours=3))
        standard.add("tzoffsetto", timedelta(hours=2))
        standard.add("dtstart", datetime(_RULES_SINCE, 10, 27, 4, 0))
        standard.add("rrule", vRecur({"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"}))
        timezone = Timezone()
        timezone.add("tzid", TZID)
        timezone.add_component(daylight)
        timezone.add_component(standard)
        return timezone
    return vtimezone_from_tzdata(TZID, HELSINKI, first.year - 1, last.year + 1)


def _transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants (UTC, to the second) in [start, end) at which the zone's offset changes."""
    found: list[datetime] = []
    step = timedelta(hours=1)
    at = start
    while at < end:
        after = min(at + step, end)
        if at.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = at, after  # offset(low) differs from offset(high): bisect to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        at = after
    return found


def vtimezone_from_tzdata(tzid: str, zone: ZoneInfo, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE listing every offset change of `zone` from `first_year` to `last_year`.

    Each observance's DTSTART and RDATEs are the local wall-clock times of its changes in the
    offset before the change (TZOFFSETFROM), as RFC 5545 3.6.5 requires. (icalendar's own
    `Timezone.from_tzid` writes the spring changes in the offset after the change, an hour
    late for any reader that uses the VTIMEZONE rather than its own tz database.)
    """
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    timezone = Timezone()
    timezone.add("tzid", tzid)

    def offset(at: datetime) -> timedelta:
        value = at.astimezone(zone).utcoffset()
        assert value is not None
        return value

    # The offset in force at the start, as an observance of its own from that moment.
    initial = start.astimezone(zone)
    onsets: dict[tuple[timedelta, timedelta, str, bool], list[datetime]] = {
        (offset(start), offset(start), initial.tzname() or tzid, bool(initial.dst())): [
            (start + offset(start)).replace(tzinfo=None)
        ]
    }
    for change in _transitions(zone, start, end):
        before, local = offset(change - timedelta(seconds=1)), change.astimezone(zone)
        key = (before, offset(change), local.tzname() or tzid, bool(local.dst()))
        onsets.setdefault(key, []).append((change + before).replace(tzinfo=None))
    for (offset_from, offset_to, name, dst), times in onsets.items():
        observance = TimezoneDaylight() if dst else TimezoneStandard()
        observance.add("tzname", name)
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        observance.add("dtstart", times[0])
        if len(times) > 1:
            observance.add("rdate", times[1:])
        timezone.add_component(observance)
    return timezone


def calendar_feed(
    name: str,
    events: Sequence[CalendarEvent],
    language: str,
    all_day: Sequence[AllDayEvent] = (),
) -> bytes:
    """The iCalendar feed named `name` with `events` (ordered by start, then uid), then the
    `all_day` ones (ordered by day, then uid)."""
    if not _LANGUAGE.match(language):
        raise ValueError(f"not an ISO 639 language code: {language!r}")
    if not name.strip():
        raise ValueError("a calendar needs a name")
    uids = [event_uid(e.uid) for e in events] + [event_uid(e.uid) for e in all_day]
    if len(set(uids)) != len(uids):
        raise ValueError("two events have the same uid")

    feed = Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("name", name)
    feed.add("x-wr-calname", name)
    feed.add("x-wr-timezone", TZID)
    feed.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", "PT6H")  # = REFRESH; X- properties are text

    if events:
        days = [e.starts_at.astimezone(HELSINKI).date() for e in events]
        days += [e.ends_at.astimezone(HELSINKI).date() for e in events]
        feed.add_component(helsinki_vtimezone(min(days), max(days)))
    else:
        # RFC 5545 wants at least one component: an empty feed still declares its zone.
        feed.add_component(helsinki_vtimezone(date(2000, 1, 1), date(2000, 12, 31)))

    lang = {"LANGUAGE": language}
    ordered = sorted(events, key=lambda e: (e.starts_at, event_uid(e.uid)))
    for e in ordered:
        vevent = Event()
        vevent.add("uid", event_uid(e.uid))
        vevent.add("dtstamp", e.last_modified.astimezone(UTC))
        vevent.add("last-modified", e.last_modified.astimezone(UTC))
        vevent.add("dtstart", e.starts_at.astimezone(HELSINKI))
        vevent.add("dtend", e.ends_at.astimezone(HELSINKI))
        vevent.add("sequence", e.sequence)
        if e.cancelled:
            vevent.add("status", "CANCELLED")
        vevent.add("summary", e.summary, parameters=lang)
        if e.description:
            vevent.add("description", e.description, parameters=lang)
        place = e.location or e.url
        if place:
            vevent.add("location", place, parameters=lang)
        if e.url:
            vevent.add("url", e.url)
        feed.add_component(vevent)
    for d in sorted(all_day, key=lambda e: (e.day, event_uid(e.uid))):
        vevent = Event()
        vevent.add("uid", event_uid(d.uid))
        vevent.add("dtstamp", d.last_modified.astimezone(UTC))
        vevent.add("last-modified", d.last_modified.astimezone(UTC))
        vevent.add("dtstart", d.day)
        vevent.add("dtend", d.day + timedelta(days=1))
        vevent.add("transp", "TRANSPARENT")
        vevent.add("summary", d.summary, parameters=lang)
        if d.description:
            vevent.add("description", d.description, parameters=lang)
        feed.add_component(vevent)
    ical: bytes = feed.to_ical()
    return ical
