"""Scheduling's pure domain: the eight-month rhythm of a cycle, with no I/O.

Nothing here reads the clock: every function that depends on the present takes `now` (an
aware datetime) or `today` (a date in Helsinki, see `local_date`). Dates are calendar days in
the programme's local time zone, Europe/Helsinki; instants are timezone-aware datetimes.

- `plan_pair_meetings`: one planned meeting per calendar month of the cycle, from the later of
  the pair's formation and the cycle's start, each due by the last day of its month.
- `group_meeting_defaults`: default dates of the cycle's group meetings (kick-off, mid-way,
  closing) on weekdays, for the coordinator to adjust.
- `pair_status` / `at_risk_on`: a pair is at risk when no meeting has been logged for longer
  than cadence + grace days since the last meeting (or since formation if none).
- `missed_months`: planned months that have fully passed without a meeting held in them.
- `reminder_times` / `due_jobs`: when to remind before a meeting, and which stored jobs fire now.
- `split_into_groups`: small groups of pairs for group work, balanced by field and region.
- `check_meeting_log`: why a logged meeting is refused, as a reason code, or None.
"""

from __future__ import annotations

import calendar as _calendar
import itertools
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, NamedTuple, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")

#: Average length of a Gregorian month in days, to turn a cadence in days into months.
_MONTH_DAYS = 365.2425 / 12

# --- time helpers ---------------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def local_date(now: datetime) -> date:
    """The calendar day in Helsinki at the instant `now` (what "today" means for a programme)."""
    _require_aware("now", now)
    return now.astimezone(HELSINKI).date()


def helsinki_datetime(on: date, at: time) -> datetime:
    """The aware instant of the local wall-clock time `at` on day `on` in Helsinki.

    A wall time that does not exist (in the hour skipped when clocks go forward) is read with
    the offset before the change, as zoneinfo does (fold=0); an ambiguous one (the hour repeated
    when clocks go back) is the first of the two.
    """
    if at.tzinfo is not None:
        raise ValueError("`at` is a local wall-clock time and must be naive")
    return datetime.combine(on, at, tzinfo=HELSINKI)


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def last_of_month(day: date) -> date:
    return day.replace(day=_calendar.monthrange(day.year, day.month)[1])


def _add_months(month: date, months: int) -> date:
    """The first day of the month `months` after the month of `month`."""
    index = month.year * 12 + (month.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


# --- 1. pair meetings -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedMeeting:
    """A pair's meeting planned for a calendar month, to be held by `due_on`."""

    pair_id: UUID
    month: date  # first day of the month
    due_on: date  # last day of the month


def cadence_in_months(cadence_days: int) -> int:
    """A pair-meeting cadence in days as a whole number of months (28..45 days: monthly)."""
    if cadence_days < 28:
        raise ValueError(
            f"a cadence of {cadence_days} days is shorter than a month; "
            "pair meetings are planned per calendar month"
        )
    return max(1, round(cadence_days / _MONTH_DAYS))


def plan_pair_meetings(
    pair_id: UUID,
    formed_on: date,
    cycle_starts_on: date,
    cycle_ends_on: date,
    cadence_days: int = 31,
) -> list[PlannedMeeting]:
    """The pair's planned meetings: one per calendar month of the cycle.

    Planning starts in the month of the later of `formed_on` and `cycle_starts_on` and goes up
    to and including the month of `cycle_ends_on`; each meeting is due by the last day of its
    month. A cycle of 2027-03-01..2027-10-31 has 8 months; a pair formed on 2027-05-10 gets 6.
    A pair formed after the cycle ended gets none. A cadence longer than a month (for instance
    61 days) plans every second (third, ...) month, starting with the first.
    """
    if cycle_ends_on < cycle_starts_on:
        raise ValueError("the cycle ends before it starts")
    step = cadence_in_months(cadence_days)
    start = max(formed_on, cycle_starts_on)
    if start > cycle_ends_on:
        return []
    month = first_of_month(start)
    last_month = first_of_month(cycle_ends_on)
    planned: list[PlannedMeeting] = []
    while month <= last_month:
        planned.append(PlannedMeeting(pair_id, month, last_of_month(month)))
        month = _add_months(month, step)
    return planned


# --- 2. group meetings ------------------------------------------------------------------

GroupMeetingKind = Literal["kick_off", "midway", "closing"]


@dataclass(frozen=True, slots=True)
class GroupMeetingSlot:
    kind: GroupMeetingKind
    on: date


def _next_weekday(day: date) -> date:
    """`day`, or the Monday after it if it falls on a weekend."""
    return day + timedelta(days=7 - day.weekday()) if day.weekday() >= 5 else day


def _previous_weekday(day: date) -> date:
    """`day`, or the Friday before it if it falls on a weekend."""
    return day - timedelta(days=day.weekday() - 4) if day.weekday() >= 5 else day


def group_meeting_defaults(
    cycle_starts_on: date, cycle_ends_on: date, count: int = 4
) -> list[GroupMeetingSlot]:
    """Default dates of the cycle's `count` group meetings, all on weekdays, in order.

    - kick-off: the cycle's first day, or the Monday after if that is a weekend (so within the
      first week);
    - closing: a week before the cycle's last day (the middle of its last two weeks), or the
      Friday before if that is a weekend;
    - `count - 2` mid-way meetings spread evenly between the two, each moved to the Monday
      after if it falls on a weekend.

    Public holidays are not known here: the coordinator moves a meeting that lands on one.
    Raises ValueError for a cycle shorter than four weeks or too short for `count` meetings.
    """
    if count < 2:
        raise ValueError("a cycle has at least a kick-off and a closing meeting")
    if (cycle_ends_on - cycle_starts_on).days < 27:
        raise ValueError("group meetings are planned for cycles of at least four weeks")
    kick_off = _next_weekday(cycle_starts_on)
    closing = _previous_weekday(cycle_ends_on - timedelta(days=7))
    span = (closing - kick_off).days
    slots = [GroupMeetingSlot("kick_off", kick_off)]
    for i in range(1, count - 1):
        offset = round(span * i / (count - 1))
        slots.append(GroupMeetingSlot("midway", _next_weekday(kick_off + timedelta(days=offset))))
    slots.append(GroupMeetingSlot("closing", closing))
    days = [slot.on for slot in slots]
    if any(earlier >= later for earlier, later in itertools.pairwise(days)):
        raise ValueError(f"the cycle is too short for {count} group meetings on separate days")
    return slots


# --- 3. at risk and missed ----------------------------------------------------------------

PairStatus = Literal["ok", "at_risk"]


def at_risk_on(
    last_meeting_on: date | None, formed_on: date, cadence_days: int, grace_days: int = 14
) -> date:
    """The first day on which the pair is at risk if no meeting is logged before it.

    The clock starts at the last meeting (or at formation if none, or if the last meeting
    somehow precedes formation); the pair is at risk once more than cadence + grace days
    have passed, i.e. from day cadence + grace + 1 on.
    """
    if cadence_days < 1 or grace_days < 0:
        raise ValueError("the cadence must be positive and the grace period not negative")
    since = formed_on if last_meeting_on is None else max(last_meeting_on, formed_on)
    return since + timedelta(days=cadence_days + grace_days + 1)


def pair_status(
    last_meeting_on: date | None,
    formed_on: date,
    today: date,
    cadence_days: int,
    grace_days: int = 14,
) -> PairStatus:
    """ "ok", or "at_risk" when no meeting was logged for longer than cadence + grace days.

    Exactly cadence + grace days after the last meeting (or formation) is still "ok".
    """
    if today >= at_risk_on(last_meeting_on, formed_on, cadence_days, grace_days):
        return "at_risk"
    return "ok"


def missed_months(
    planned: Sequence[PlannedMeeting], held_on: Sequence[date], today: date
) -> list[date]:
    """The planned months (their first days) that have fully passed with no meeting held in them.

    A month has fully passed when `today` is after its `due_on`. A meeting counts for the
    calendar month it was held in; meetings in unplanned months count for nothing.
    """
    months_held = {(day.year, day.month) for day in held_on}
    return [
        meeting.month
        for meeting in planned
        if today > meeting.due_on and (meeting.month.year, meeting.month.month) not in months_held
    ]


# --- 4. reminders ---------------------------------------------------------------------------

DEFAULT_REMINDER_OFFSETS: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1))


def reminder_times(
    starts_at: datetime,
    now: datetime,
    offsets: tuple[timedelta, ...] = DEFAULT_REMINDER_OFFSETS,
) -> list[datetime]:
    """When to remind before something that starts at `starts_at`: the reminders still ahead.

    Each offset's whole days are taken on the Helsinki wall clock (a reminder "a week before"
    an 18:00 meeting goes at 18:00 local time, even across a daylight-saving change) and its
    remainder (hours, minutes) as elapsed time. Returns the distinct times strictly after
    `now`, in UTC, earliest first. Offsets must be positive.
    """
    _require_aware("starts_at", starts_at)
    _require_aware("now", now)
    local_start = starts_at.astimezone(HELSINKI)
    times: set[datetime] = set()
    for offset in offsets:
        if offset <= timedelta(0):
            raise ValueError("reminder offsets must be positive")
        whole_days = timedelta(days=offset.days)
        # Aware arithmetic with one tzinfo is wall-clock arithmetic; the offset is re-derived.
        at = (local_start - whole_days).astimezone(UTC) - (offset - whole_days)
        if at > now:
            times.add(at)
    return sorted(times)


JobId = TypeVar("JobId", bound=Hashable)


class Job(NamedTuple):
    """A stored due job, as (job_id, due_at, fired_at); plain 3-tuples work the same."""

    job_id: Hashable
    due_at: datetime
    fired_at: datetime | None


def due_jobs(jobs: Sequence[tuple[JobId, datetime, datetime | None]], now: datetime) -> list[JobId]:
    """The ids of the jobs to fire at `now`: not yet fired and due at or before `now`.

    Earliest due first (ties by position in `jobs`). A job whose time passed while nothing ran
    (a restart) is still due: late, never lost. Firing must record `fired_at` in the same
    transaction as the job's effect so that a job fires once.
    """
    _require_aware("now", now)
    ready: list[tuple[datetime, int, JobId]] = []
    for position, (job_id, due_at, fired_at) in enumerate(jobs):
        _require_aware("due_at", due_at)
        if fired_at is None and due_at <= now:
            ready.append((due_at, position, job_id))
    ready.sort(key=lambda item: (item[0], item[1]))
    return [job_id for _, _, job_id in ready]


# --- 5. small groups --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairInfo:
    pair_id: UUID
    isco_major: str  # ISCO-08 major group of the pair's field, e.g. "2"
    region: str | None  # None: unknown or remote only; balanced as a region of its own


def group_count(pairs: int, min_size: int = 5, max_size: int = 8) -> int:
    """How many groups `pairs` pairs make.

    Among the counts whose balanced sizes all lie within min..max, the one whose groups are
    nearest the middle of the range; when there is none (9 pairs with 5..8), the fewest groups
    that keep every group within `max_size` (so 9 pairs make groups of 5 and 4). Fewer than
    `min_size` pairs make one group; no pairs make none.
    """
    if min_size < 1 or max_size < min_size:
        raise ValueError("need 1 <= min_size <= max_size")
    if pairs <= 0:
        return 0
    if pairs < min_size:
        return 1
    fewest = -(-pairs // max_size)  # ceil: no group above max_size
    most = pairs // min_size  # floor: no group below min_size
    if fewest > most:
        return fewest
    ideal = pairs / ((min_size + max_size) / 2)
    return min(range(fewest, most + 1), key=lambda g: (abs(g - ideal), g))


def _swap_delta(counts_a: Counter[str], counts_b: Counter[str], va: str, vb: str) -> int:
    """Change of the sum of squared counts when a member valued `va` in group A and one valued
    `vb` in group B trade groups."""
    if va == vb:
        return 0
    return 2 * (counts_b[va] - counts_a[va] + 1) + 2 * (counts_a[vb] - counts_b[vb] + 1)


def split_into_groups(
    pairs: Sequence[PairInfo], min_size: int = 5, max_size: int = 8
) -> list[list[UUID]]:
    """Split pairs into small groups for group work, balanced by field and region.

    Sizes differ by at most one and lie within min..max whenever that is possible (see
    `group_count`). Each field's pairs are spread so that its count in any two groups differs
    by at most one (dealt round-robin in field order). Then two pairs in different groups trade
    places while that lowers the sum over groups and regions of count squared without
    changing the field spread: a local optimum, in which each region's count differs by at
    most one between groups in most cohorts (two in a few). Deterministic: the same pairs in
    any order give the same groups, each listed by pair id.
    """
    ids = [p.pair_id for p in pairs]
    if len(set(ids)) != len(ids):
        raise ValueError("a pair appears twice")
    g = group_count(len(pairs), min_size, max_size)
    if g == 0:
        return []

    def region_key(p: PairInfo) -> str:
        return "" if p.region is None else "\x01" + p.region

    ordered = sorted(pairs, key=lambda p: (p.isco_major, region_key(p), str(p.pair_id)))
    fields = [p.isco_major for p in ordered]
    regions = [region_key(p) for p in ordered]
    # Dealing a list sorted by field round-robin spreads every run of equal fields evenly,
    # which is the least sum of squared field counts there is.
    group_of = [i % g for i in range(len(ordered))]
    field_counts = [Counter[str]() for _ in range(g)]
    region_counts = [Counter[str]() for _ in range(g)]
    for i, grp in enumerate(group_of):
        field_counts[grp][fields[i]] += 1
        region_counts[grp][regions[i]] += 1

    # Swaps of two pairs between groups that keep that field optimum and lower the regions'
    # sum of squares, until none is left: a local optimum, reached in finitely many steps.
    improved = True
    while improved:
        improved = False
        for a in range(len(ordered)):
            for b in range(a + 1, len(ordered)):
                ga, gb = group_of[a], group_of[b]
                if ga == gb:
                    continue
                region_delta = _swap_delta(
                    region_counts[ga], region_counts[gb], regions[a], regions[b]
                )
                if region_delta >= 0:
                    continue
                if _swap_delta(field_counts[ga], field_counts[gb], fields[a], fields[b]) != 0:
                    continue
                for counts, va, vb in (
                    (field_counts, fields[a], fields[b]),
                    (region_counts, regions[a], regions[b]),
                ):
                    counts[ga][va] -= 1
                    counts[ga][vb] += 1
                    counts[gb][vb] -= 1
                    counts[gb][va] += 1
                group_of[a], group_of[b] = gb, ga
                improved = True

    groups: list[list[UUID]] = [[] for _ in range(g)]
    for p, grp in zip(ordered, group_of, strict=True):
        groups[grp].append(p.pair_id)
    for group in groups:
        group.sort(key=str)
    return groups


# --- 6. logging a meeting ------------------------------------------------------------------

MeetingLogProblem = Literal[
    "in_the_future", "before_pair_formed", "pair_ended", "length_not_positive", "too_long"
]

MAX_MEETING_MINUTES = 8 * 60


def check_meeting_log(
    held_on: date,
    minutes: int,
    today: date,
    pair_formed_on: date,
    pair_ended_on: date | None,
) -> MeetingLogProblem | None:
    """Why a meeting logged as held on `held_on` for `minutes` is refused, or None if it is fine.

    The first problem found, in this order: held after `today` ("in_the_future"), before the
    pair was formed ("before_pair_formed"), after the pair ended ("pair_ended"; a meeting held
    on or before the day it ended can still be logged later), a length of zero or less
    ("length_not_positive") or more than eight hours ("too_long"). `today` is the local date
    in Helsinki (`local_date(now)`).
    """
    if held_on > today:
        return "in_the_future"
    if held_on < pair_formed_on:
        return "before_pair_formed"
    if pair_ended_on is not None and held_on > pair_ended_on:
        return "pair_ended"
    if minutes <= 0:
        return "length_not_positive"
    if minutes > MAX_MEETING_MINUTES:
        return "too_long"
    return None


# --- 6. changing and cancelling group meetings and trainings ---------------------------------


def change_problem(ends_at: datetime, cancelled: bool, now: datetime) -> str | None:
    """Why an event cannot be changed or cancelled now: it has ended, or is cancelled already."""
    _require_aware("now", now)
    if cancelled:
        return "cancelled"
    if ends_at <= now:
        return "ended"
    return None


def capacity_problem(capacity: int, coming: int) -> str | None:
    """A training's capacity may not go below the people who answered yes."""
    return "below_yes_answers" if capacity < coming else None


@dataclass(frozen=True, slots=True)
class When:
    """Where and when an event is: what its invitees are told about when it changes."""

    starts_at: datetime
    ends_at: datetime
    place: str | None
    online_url: str | None


def is_move(before: When, after: When) -> bool:
    """Whether the invitees should hear of the change: time, place or link differ (a new
    title or capacity alone is not a move)."""
    return before != after


def replanned_reminders(
    unfired: Sequence[datetime], starts_at: datetime, now: datetime
) -> tuple[list[datetime], list[datetime]]:
    """(the unfired reminder times to drop, the times to plan) for an event now starting at
    `starts_at`. Fired reminders are history and stay; a time already past is never planned."""
    wanted = reminder_times(starts_at, now)
    keep = set(wanted) & set(unfired)
    return sorted(set(unfired) - keep), [at for at in wanted if at not in keep]


def open_deadlines(
    planned: Sequence[PlannedMeeting], held_on: Sequence[date], today: date
) -> list[PlannedMeeting]:
    """The planned months whose meeting is still to come: none held in the month yet, and
    its last day not passed (a missed month is the coordinator's follow-up, not her calendar)."""
    months_held = {(day.year, day.month) for day in held_on}
    return [
        meeting
        for meeting in sorted(planned, key=lambda p: (p.month, str(p.pair_id)))
        if meeting.due_on >= today and (meeting.month.year, meeting.month.month) not in months_held
    ]
