"""Scheduling through a whole cycle on real NATS and PostgreSQL, with the clock moved forward
month by month (`FileClock`): pairs formed → months planned → one pair logs a meeting every
month, the other none → missed months and the at-risk flag at the right moments, exactly once,
also across a restart of the service between a job's due time and its firing."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from shared.commands import CommandRejected, GetSchedule, RecordMeeting
from shared.events import (
    CycleOpened,
    MeetingHeld,
    MeetingMissed,
    MeetingMode,
    PairAtRisk,
    PairEnded,
    PairFormed,
)
from tests.conftest import eventually
from tests.helpers import ServiceSim, count

HELSINKI = ZoneInfo("Europe/Helsinki")
START = datetime(2030, 2, 20, 12, 0, tzinfo=HELSINKI)
STARTS_ON, ENDS_ON = date(2030, 3, 1), date(2030, 10, 31)
MONTHS = [date(2030, month, 1) for month in range(3, 11)]


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2030) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI)


class Sim(ServiceSim):
    """The test's handle on the simulated time, the scheduling service and its events."""

    service, jobs_table = "scheduling", "scheduling.jobs"

    async def open_cycle(self) -> None:
        await self.publish(
            CycleOpened(
                cycle_id=self.cycle,
                programme_id=uuid4(),
                applications_open=date(2030, 1, 1),
                applications_close=date(2030, 2, 1),
                starts_on=STARTS_ON,
                ends_on=ENDS_ON,
            )
        )
        await eventually(lambda: count(self.db, "scheduling.cycles"))

    async def form_pair(self) -> UUID:
        pair_id = uuid4()
        await self.publish(
            PairFormed(
                pair_id=pair_id,
                cycle_id=self.cycle,
                mentee_id=uuid4(),
                mentor_id=uuid4(),
                score=0.8,
            )
        )
        await eventually(
            lambda: count(
                self.db, "scheduling.jobs", "pair_id = $1 AND kind = 'at_risk_check'", pair_id
            )
        )
        return pair_id


@pytest.fixture
def sim(stack, nc, db, tmp_path) -> Sim:
    return Sim.started(stack, nc, db, tmp_path, START)


def meeting(pair_id: UUID, held_on: date, minutes: int = 60) -> RecordMeeting:
    return RecordMeeting(
        pair_id=pair_id,
        held_on=held_on,
        minutes=minutes,
        mode=MeetingMode.ONLINE,
        topic_codes=("networking",),
        logged_by="participant",
    )


async def test_a_whole_cycle_month_by_month(sim: Sim, db) -> None:
    await sim.open_cycle()
    active, silent = await sim.form_pair(), await sim.form_pair()

    # Planned: the eight months of the cycle, and an at-risk check 46 days after formation.
    for pair in (active, silent):
        months = [
            r["month"]
            for r in await db.fetch(
                "SELECT month FROM scheduling.planned_meetings WHERE pair_id = $1 ORDER BY month",
                pair,
            )
        ]
        assert months == MONTHS
    due = await db.fetchval(
        "SELECT due_at FROM scheduling.jobs WHERE pair_id = $1 AND kind = 'at_risk_check'", silent
    )
    assert due == at(4, 7, 0, 0)  # 2030-02-20 + 31 + 14 + 1 days, midnight in Helsinki (EEST)

    # A retried log (same command id) is one meeting and one MeetingHeld.
    sim.move_to(at(3, 15))
    await sim.caught_up()
    first_log = uuid4()
    first = await sim.command(meeting(active, date(2030, 3, 15)), command_id=first_log)
    again = await sim.command(meeting(active, date(2030, 3, 15)), command_id=first_log)
    assert first == again and first["meeting_id"]
    assert await count(db, "scheduling.meetings") == 1

    # The day before the silent pair's at-risk day: March was missed, nobody is at risk yet.
    sim.move_to(at(4, 6, 23, 59))
    await sim.caught_up()
    assert await count(db, "scheduling.at_risk") == 0
    missed = "pair_id = $1 AND missed_at IS NOT NULL"
    assert await count(db, "scheduling.planned_meetings", missed, silent) == 1
    assert await count(db, "scheduling.planned_meetings", missed, active) == 0

    # The service is down when the at-risk check falls due; it fires once after the restart.
    sim.stop()
    sim.move_to(at(4, 7, 0, 1))
    assert await sim.due_unfired(sim.clock.now()) == 1
    sim.start()
    await sim.caught_up()
    flags = await db.fetch("SELECT * FROM scheduling.at_risk")
    assert [f["pair_id"] for f in flags] == [silent]
    assert at(4, 7, 0, 1) <= flags[0]["flagged_at"] < at(4, 7, 0, 3)
    assert flags[0]["last_meeting_on"] is None
    assert (
        await count(db, "scheduling.outbox", "event_type = 'womento.scheduling.pair_at_risk.v1'")
        == 1
    )

    # The active pair meets every month from April to October; the silent one never does.
    for month in range(4, 11):
        sim.move_to(at(month, 15))
        await sim.caught_up()
        await sim.command(meeting(active, date(2030, month, 15)))
        assert await count(db, "scheduling.planned_meetings", missed, silent) == month - 3
        assert await count(db, "scheduling.planned_meetings", missed, active) == 0
        assert await count(db, "scheduling.at_risk") == 1

    sim.move_to(at(11, 15))
    await sim.caught_up()
    assert await count(db, "scheduling.planned_meetings", missed, silent) == 8
    assert await count(db, "scheduling.planned_meetings", missed, active) == 0

    await eventually(lambda: sim.published_count(MeetingHeld, 8))
    await eventually(lambda: sim.published_count(MeetingMissed, 8))
    missed_events = await sim.published(MeetingMissed)
    assert {e["pair_id"] for e in missed_events} == {str(silent)}
    assert sorted(e["month"] for e in missed_events) == [m.isoformat() for m in MONTHS]
    at_risk_events = await sim.published(PairAtRisk)
    assert [e["pair_id"] for e in at_risk_events] == [str(silent)]
    assert {e["pair_id"] for e in await sim.published(MeetingHeld)} == {str(active)}

    schedule = await sim.command(GetSchedule(cycle_id=sim.cycle))
    by_pair = {p["pair_id"]: p for p in schedule["pairs"]}
    assert schedule["cycle"]["starts_on"] == "2030-03-01"
    assert all(p["held"] for p in by_pair[str(active)]["planned"])
    assert len(by_pair[str(active)]["meetings"]) == 8 and not by_pair[str(active)]["at_risk"]
    assert by_pair[str(silent)]["at_risk"] and not by_pair[str(silent)]["meetings"]
    assert all(p["missed_at"] for p in by_pair[str(silent)]["planned"])


async def test_a_logged_meeting_clears_the_at_risk_flag(sim: Sim, db) -> None:
    await sim.open_cycle()
    pair = await sim.form_pair()
    sim.move_to(at(4, 10))
    await sim.caught_up()
    assert await count(db, "scheduling.at_risk", "cleared_at IS NULL") == 1
    reply = await sim.command(meeting(pair, date(2030, 4, 9)))
    assert reply["at_risk_cleared"] is True and reply["at_risk_on"] == "2030-05-25"
    assert await count(db, "scheduling.at_risk", "cleared_at IS NULL") == 0
    sim.move_to(at(5, 26))
    await sim.caught_up()
    assert await count(db, "scheduling.at_risk") == 2  # flagged again, once


async def test_bad_meeting_logs_are_refused_with_the_field_and_record_nothing(sim: Sim, db) -> None:
    await sim.open_cycle()
    pair = await sim.form_pair()
    sim.move_to(at(3, 10))
    cases = [
        (meeting(pair, date(2030, 3, 11)), "in_the_future", "held_on"),
        (meeting(pair, date(2030, 2, 19)), "before_pair_formed", "held_on"),
        (meeting(pair, date(2030, 3, 9), minutes=-30), "length_not_positive", "minutes"),
        (meeting(pair, date(2030, 3, 9), minutes=0), "length_not_positive", "minutes"),
        (meeting(uuid4(), date(2030, 3, 9)), "unknown_pair", "pair_id"),
    ]
    for command, code, field in cases:
        with pytest.raises(CommandRejected) as refused:
            await sim.command(command)
        assert (refused.value.code, refused.value.field) == (code, field)
    with pytest.raises(CommandRejected) as other_org:
        await sim.command(meeting(pair, date(2030, 3, 9)), org=uuid4())
    assert (other_org.value.code, other_org.value.field) == ("unknown_pair", "pair_id")

    await sim.publish(PairEnded(pair_id=pair, cycle_id=sim.cycle, reason_code="moved_away"))
    await eventually(lambda: count(db, "scheduling.pairs", "ended_at IS NOT NULL"))
    sim.move_to(at(3, 13))
    with pytest.raises(CommandRejected) as ended:
        await sim.command(meeting(pair, date(2030, 3, 12)))
    assert (ended.value.code, ended.value.field) == ("pair_ended", "pair_id")
    assert await count(db, "scheduling.meetings") == 0
    assert await count(db, "scheduling.outbox") == 0
    # The ended pair's checks are dropped: nothing fires for it later.
    assert await count(db, "scheduling.jobs", "fired_at IS NULL AND pair_id = $1", pair) == 0
    # A meeting held before the pair ended can still be logged.
    assert (await sim.command(meeting(pair, date(2030, 3, 9))))["meeting_id"]
    assert await count(db, "scheduling.meetings") == 1


async def test_a_pair_formed_before_its_cycle_is_known_is_planned_from_formation(
    sim: Sim, db
) -> None:
    pair = await sim.form_pair()
    rows = await db.fetch(
        "SELECT month FROM scheduling.planned_meetings WHERE pair_id = $1 ORDER BY month", pair
    )
    assert [r["month"] for r in rows] == [date(2030, m, 1) for m in range(2, 10)]
    assert await db.fetchval("SELECT plan_basis FROM scheduling.pairs") == "formation"
    await sim.open_cycle()  # the cycle's dates arrive: planned again from them
    await eventually(lambda: db.fetchval("SELECT plan_basis = 'cycle' FROM scheduling.pairs"))
    rows = await db.fetch(
        "SELECT month FROM scheduling.planned_meetings WHERE pair_id = $1 ORDER BY month", pair
    )
    assert [r["month"] for r in rows] == MONTHS
    assert await count(db, "scheduling.jobs", "kind = 'missed_check'") == 8


async def test_a_pair_ended_before_its_formation_arrives_is_applied_after_it(sim: Sim, db) -> None:
    """Each event type has its own consumer: `PairEnded` can overtake `PairFormed`."""
    await sim.open_cycle()
    pair = uuid4()
    await sim.publish(PairEnded(pair_id=pair, cycle_id=sim.cycle, reason_code="moved_away"))
    await sim.publish(
        PairFormed(pair_id=pair, cycle_id=sim.cycle, mentee_id=uuid4(), mentor_id=uuid4(), score=1)
    )
    await eventually(lambda: count(db, "scheduling.pairs", "ended_at IS NOT NULL"))
    await eventually(lambda: count(db, "scheduling.inbox", "event_type LIKE '%pair_ended%'"))
    assert await count(db, "scheduling.jobs", "fired_at IS NULL") == 0
