"""Scheduling's pure domain: planned months, group meeting dates, at risk, missed months,
reminders, due jobs, small groups and the checks on a logged meeting."""

import itertools
import random
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scheduling.domain import (
    HELSINKI,
    GroupMeetingSlot,
    Job,
    PairInfo,
    PlannedMeeting,
    at_risk_on,
    check_meeting_log,
    due_jobs,
    group_count,
    group_meeting_defaults,
    helsinki_datetime,
    local_date,
    missed_months,
    pair_status,
    plan_pair_meetings,
    reminder_times,
    split_into_groups,
)

PAIR = UUID("00000000-0000-4000-8000-000000000001")
START, END = date(2027, 3, 1), date(2027, 10, 31)


def uid(n: int) -> UUID:
    return UUID(int=n)


# --- time helpers ---------------------------------------------------------------------------


def test_local_date_is_the_day_in_helsinki() -> None:
    assert local_date(datetime(2027, 3, 31, 20, 59, tzinfo=UTC)) == date(2027, 3, 31)
    assert local_date(datetime(2027, 3, 31, 21, 0, tzinfo=UTC)) == date(2027, 4, 1)  # EEST
    assert local_date(datetime(2027, 1, 31, 22, 0, tzinfo=UTC)) == date(2027, 2, 1)  # EET
    with pytest.raises(ValueError):
        local_date(datetime(2027, 3, 31, 12, 0))


def test_helsinki_datetime_on_both_sides_of_daylight_saving() -> None:
    spring = helsinki_datetime(date(2027, 3, 28), time(10, 0))
    autumn = helsinki_datetime(date(2027, 10, 31), time(10, 0))
    assert spring.astimezone(UTC) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert autumn.astimezone(UTC) == datetime(2027, 10, 31, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        helsinki_datetime(date(2027, 3, 28), time(10, 0, tzinfo=UTC))


# --- 1. pair meetings -----------------------------------------------------------------------


def test_a_normal_cycle_plans_eight_months_each_due_at_its_end() -> None:
    planned = plan_pair_meetings(PAIR, date(2027, 2, 20), START, END)
    assert [p.month for p in planned] == [date(2027, m, 1) for m in range(3, 11)]
    assert [p.due_on for p in planned] == [
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
        date(2027, 7, 31),
        date(2027, 8, 31),
        date(2027, 9, 30),
        date(2027, 10, 31),
    ]
    assert all(p.pair_id == PAIR for p in planned)


def test_a_late_pair_gets_the_months_left() -> None:
    planned = plan_pair_meetings(PAIR, date(2027, 5, 10), START, END)
    assert len(planned) == 6
    assert planned[0] == PlannedMeeting(PAIR, date(2027, 5, 1), date(2027, 5, 31))
    assert planned[-1].month == date(2027, 10, 1)


def test_pairs_formed_at_or_after_the_end() -> None:
    assert [p.month for p in plan_pair_meetings(PAIR, END, START, END)] == [date(2027, 10, 1)]
    assert plan_pair_meetings(PAIR, date(2027, 11, 1), START, END) == []


def test_a_cycle_across_new_year_and_a_leap_february() -> None:
    planned = plan_pair_meetings(PAIR, date(2027, 9, 1), date(2027, 9, 1), date(2028, 4, 30))
    assert [p.month for p in planned] == [
        date(2027, 9, 1),
        date(2027, 10, 1),
        date(2027, 11, 1),
        date(2027, 12, 1),
        date(2028, 1, 1),
        date(2028, 2, 1),
        date(2028, 3, 1),
        date(2028, 4, 1),
    ]
    assert planned[5].due_on == date(2028, 2, 29)


def test_a_cycle_ending_mid_month_still_plans_that_month() -> None:
    planned = plan_pair_meetings(PAIR, START, START, date(2027, 10, 15))
    assert len(planned) == 8
    assert planned[-1].due_on == date(2027, 10, 31)


def test_cadence() -> None:
    assert len(plan_pair_meetings(PAIR, START, START, END, cadence_days=30)) == 8
    two_monthly = plan_pair_meetings(PAIR, START, START, END, cadence_days=61)
    assert [p.month.month for p in two_monthly] == [3, 5, 7, 9]
    with pytest.raises(ValueError):
        plan_pair_meetings(PAIR, START, START, END, cadence_days=14)
    with pytest.raises(ValueError):
        plan_pair_meetings(PAIR, START, END, START)


# --- 2. group meetings ----------------------------------------------------------------------


def test_group_meeting_defaults_for_a_spring_cycle() -> None:
    assert group_meeting_defaults(START, END) == [
        GroupMeetingSlot("kick_off", date(2027, 3, 1)),  # a Monday
        GroupMeetingSlot("midway", date(2027, 5, 18)),
        GroupMeetingSlot("midway", date(2027, 8, 5)),
        # Oct 31 - 7 days is Sunday Oct 24: the Friday before
        GroupMeetingSlot("closing", date(2027, 10, 22)),
    ]


def test_weekends_move_to_the_next_monday_or_for_the_closing_the_friday_before() -> None:
    # 2027-01-02 is a Saturday; 2027-08-21 (2027-08-28 - 7) is a Saturday.
    slots = group_meeting_defaults(date(2027, 1, 2), date(2027, 8, 28), count=2)
    assert slots == [
        GroupMeetingSlot("kick_off", date(2027, 1, 4)),
        GroupMeetingSlot("closing", date(2027, 8, 20)),
    ]
    # Kick-off Mon 2027-03-01, closing Fri 2027-03-19: mid-way targets Sun 7th and Sat 13th.
    slots = group_meeting_defaults(date(2027, 3, 1), date(2027, 3, 28))
    assert [s.on for s in slots] == [
        date(2027, 3, 1),
        date(2027, 3, 8),
        date(2027, 3, 15),
        date(2027, 3, 19),
    ]


def test_group_meeting_defaults_refuse_impossible_cycles() -> None:
    with pytest.raises(ValueError):
        group_meeting_defaults(START, START + timedelta(days=20))
    with pytest.raises(ValueError):
        group_meeting_defaults(START, END, count=1)
    with pytest.raises(ValueError):
        group_meeting_defaults(date(2027, 3, 1), date(2027, 3, 28), count=20)


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2035, 12, 31)),
    length=st.integers(min_value=120, max_value=400),
    count=st.integers(min_value=2, max_value=6),
)
def test_group_meeting_defaults_properties(start: date, length: int, count: int) -> None:
    end = start + timedelta(days=length)
    slots = group_meeting_defaults(start, end, count)
    assert [s.kind for s in slots] == ["kick_off", *["midway"] * (count - 2), "closing"]
    days = [s.on for s in slots]
    assert all(d.weekday() < 5 for d in days)
    assert days == sorted(set(days))
    assert start <= days[0] < start + timedelta(days=7)
    assert end - timedelta(days=14) < days[-1] <= end
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    assert max(gaps) - min(gaps) <= 5  # evenly spread, give or take a weekend


# --- 3. at risk and missed ------------------------------------------------------------------


def test_at_risk_only_after_cadence_plus_grace() -> None:
    formed = date(2027, 3, 1)
    assert pair_status(None, formed, date(2027, 4, 15), 31) == "ok"  # exactly 45 days
    assert pair_status(None, formed, date(2027, 4, 16), 31) == "at_risk"
    assert at_risk_on(None, formed, 31) == date(2027, 4, 16)
    last = date(2027, 5, 20)
    assert pair_status(last, formed, date(2027, 7, 4), 31, grace_days=14) == "ok"
    assert pair_status(last, formed, date(2027, 7, 5), 31, grace_days=14) == "at_risk"
    assert pair_status(last, formed, date(2027, 5, 27), 0 + 7, grace_days=0) == "ok"
    assert pair_status(last, formed, date(2027, 5, 28), 7, grace_days=0) == "at_risk"
    with pytest.raises(ValueError):
        pair_status(last, formed, date(2027, 5, 28), 0)


def test_a_meeting_logged_clears_the_risk() -> None:
    formed = date(2027, 3, 1)
    today = date(2027, 5, 1)
    assert pair_status(None, formed, today, 31) == "at_risk"
    assert pair_status(date(2027, 4, 30), formed, today, 31) == "ok"


def test_missed_months() -> None:
    planned = plan_pair_meetings(PAIR, START, START, END)
    held = [date(2027, 2, 20), date(2027, 3, 15), date(2027, 5, 31), date(2027, 6, 1)]
    assert missed_months(planned, held, date(2027, 3, 31)) == []  # March not over yet
    assert missed_months(planned, held, date(2027, 6, 30)) == [date(2027, 4, 1)]
    assert missed_months(planned, held, date(2027, 7, 1)) == [date(2027, 4, 1)]
    assert missed_months(planned, held, date(2027, 11, 1)) == [
        date(2027, 4, 1),
        date(2027, 7, 1),
        date(2027, 8, 1),
        date(2027, 9, 1),
        date(2027, 10, 1),
    ]
    assert missed_months(planned, [], date(2027, 4, 1)) == [date(2027, 3, 1)]
    assert missed_months([], held, date(2030, 1, 1)) == []


# --- 4. reminders and due jobs ----------------------------------------------------------------

MEETING = datetime(2027, 4, 1, 18, 0, tzinfo=HELSINKI)  # EEST: 15:00 UTC


def test_reminders_keep_the_local_time_across_daylight_saving() -> None:
    times = reminder_times(MEETING, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert times == [
        datetime(2027, 3, 25, 16, 0, tzinfo=UTC),  # 18:00 EET, before clocks went forward
        datetime(2027, 3, 31, 15, 0, tzinfo=UTC),  # 18:00 EEST
    ]
    assert all(t.tzinfo is UTC for t in times)


def test_only_reminders_still_ahead() -> None:
    week_before = datetime(2027, 3, 25, 16, 0, tzinfo=UTC)
    assert len(reminder_times(MEETING, now=week_before - timedelta(seconds=1))) == 2
    assert reminder_times(MEETING, now=week_before) == [datetime(2027, 3, 31, 15, 0, tzinfo=UTC)]
    assert reminder_times(MEETING, now=MEETING) == []


def test_reminder_offsets() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    two_hours = reminder_times(MEETING, now, offsets=(timedelta(hours=2),))
    assert two_hours == [datetime(2027, 4, 1, 13, 0, tzinfo=UTC)]
    mixed = reminder_times(MEETING, now, offsets=(timedelta(days=1, hours=2),))
    assert mixed == [datetime(2027, 3, 31, 13, 0, tzinfo=UTC)]
    twice = reminder_times(MEETING, now, offsets=(timedelta(days=1), timedelta(days=1)))
    assert len(twice) == 1
    with pytest.raises(ValueError):
        reminder_times(MEETING, now, offsets=(timedelta(0),))
    with pytest.raises(ValueError):
        reminder_times(datetime(2027, 4, 1, 18, 0), now)
    with pytest.raises(ValueError):
        reminder_times(MEETING, datetime(2027, 1, 1))


def test_due_jobs_are_unfired_and_due_earliest_first() -> None:
    now = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
    jobs = [
        Job("later", now + timedelta(seconds=1), None),
        Job("exactly_now", now, None),
        Job("fired", now - timedelta(days=1), now - timedelta(days=1)),
        Job("missed_while_down", now - timedelta(days=3), None),
        ("plain_tuple", now - timedelta(hours=1), None),
    ]
    assert due_jobs(jobs, now) == ["missed_while_down", "plain_tuple", "exactly_now"]
    assert due_jobs([], now) == []
    ids = due_jobs([(uid(2), now, None), (uid(1), now, None)], now)
    assert ids == [uid(2), uid(1)]  # ties keep the given order
    with pytest.raises(ValueError):
        due_jobs(jobs, datetime(2027, 4, 1, 12, 0))


# --- 5. small groups -------------------------------------------------------------------------

FIELDS = ["1", "2", "2", "2", "3", "4", "5", "7"]  # skewed: many professionals ("2")
REGIONS = ["Uusimaa", "Uusimaa", "Uusimaa", "Pirkanmaa", "Varsinais-Suomi", None]


def cohort(n: int, seed: int) -> list[PairInfo]:
    rng = random.Random(seed)
    return [PairInfo(uid(i + 1), rng.choice(FIELDS), rng.choice(REGIONS)) for i in range(n)]


def spread(groups: list[list[UUID]], attribute: Mapping[UUID, object]) -> int:
    """The largest difference between two groups' counts of one value of the attribute."""
    values = set(attribute.values())
    worst = 0
    for value in values:
        counts = [sum(1 for p in g if attribute[p] == value) for g in groups]
        worst = max(worst, max(counts) - min(counts))
    return worst


def test_group_count() -> None:
    assert [group_count(n) for n in range(0, 5)] == [0, 1, 1, 1, 1]
    assert [group_count(n) for n in (5, 8, 9, 10, 16, 17, 24, 40)] == [1, 1, 2, 2, 2, 3, 4, 6]
    with pytest.raises(ValueError):
        group_count(10, min_size=6, max_size=5)


@pytest.mark.parametrize("n", range(0, 46))
def test_groups_partition_and_sizes(n: int) -> None:
    pairs = cohort(n, seed=n)
    groups = split_into_groups(pairs)
    assert sorted(p for g in groups for p in g) == sorted(p.pair_id for p in pairs)
    sizes = [len(g) for g in groups]
    if n == 0:
        assert groups == []
    elif n < 5:
        assert sizes == [n]
    elif n == 9:  # no split of 9 into groups of 5..8: max_size wins
        assert sorted(sizes) == [4, 5]
    else:
        assert all(5 <= s <= 8 for s in sizes), sizes
    if n:
        assert max(sizes) - min(sizes) <= 1


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=5, max_value=40), seed=st.integers(0, 10_000))
def test_groups_spread_fields_and_regions(n: int, seed: int) -> None:
    pairs = cohort(n, seed)
    groups = split_into_groups(pairs)
    field = {p.pair_id: p.isco_major for p in pairs}
    region = {p.pair_id: p.region for p in pairs}
    assert spread(groups, field) <= 1
    assert spread(groups, region) <= 2
    # Deterministic, whatever the input order.
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    assert split_into_groups(shuffled) == groups


def test_regions_balanced_within_fields_when_possible() -> None:
    # 24 pairs -> 4 groups of 6. Field "2" all in Uusimaa, field "3" half Uusimaa half
    # Pirkanmaa, field "7" two in Pirkanmaa and six of unknown region.
    regions = ["Uusimaa"] * 8 + ["Uusimaa", "Pirkanmaa"] * 4 + ["Pirkanmaa"] * 2 + [None] * 6
    fields = ["2"] * 8 + ["3"] * 8 + ["7"] * 8
    pairs = [
        PairInfo(uid(i + 1), f, r) for i, (f, r) in enumerate(zip(fields, regions, strict=True))
    ]
    groups = split_into_groups(pairs)
    assert [len(g) for g in groups] == [6, 6, 6, 6]
    info = {p.pair_id: p for p in pairs}
    for group in groups:
        assert Counter(info[p].isco_major for p in group) == {"2": 2, "3": 2, "7": 2}
        assert Counter(info[p].region for p in group)["Uusimaa"] == 3
    assert spread(groups, {p.pair_id: p.region for p in pairs}) <= 1


def test_groups_refuse_duplicates_and_bad_bounds() -> None:
    pair = PairInfo(uid(1), "2", None)
    with pytest.raises(ValueError):
        split_into_groups([pair, pair])
    with pytest.raises(ValueError):
        split_into_groups([pair], min_size=0)


def test_other_bounds() -> None:
    groups = split_into_groups(cohort(30, seed=1), min_size=3, max_size=4)
    assert sorted(len(g) for g in groups) == [3] * 6 + [4] * 3  # 9 groups: 30 / 9 ≈ 3.5


# --- 6. logging a meeting ---------------------------------------------------------------------

TODAY = date(2027, 5, 15)
FORMED = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("held_on", "minutes", "ended_on", "expected"),
    [
        (TODAY, 60, None, None),
        (FORMED, 60, None, None),
        (date(2027, 5, 16), 60, None, "in_the_future"),
        (date(2027, 5, 16), -5, None, "in_the_future"),  # the first problem wins
        (date(2027, 3, 9), 60, None, "before_pair_formed"),
        (date(2027, 5, 1), 60, date(2027, 4, 30), "pair_ended"),
        (date(2027, 4, 30), 60, date(2027, 4, 30), None),  # held on the last day, logged later
        (TODAY, 0, None, "length_not_positive"),
        (TODAY, -30, None, "length_not_positive"),
        (TODAY, 480, None, None),
        (TODAY, 481, None, "too_long"),
    ],
)
def test_check_meeting_log(
    held_on: date, minutes: int, ended_on: date | None, expected: str | None
) -> None:
    assert check_meeting_log(held_on, minutes, TODAY, FORMED, ended_on) == expected
