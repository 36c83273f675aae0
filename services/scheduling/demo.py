"""DEMO DATA for `make run`: the running demo cycle's first months in scheduling.

Intake's seed creates the running cycle (started 75 days ago) with its applicants accepted.
Here, through the real commands, matching proposes and confirms its pairs (`PairFormed`
reaches scheduling, which plans them). What the programme would have lived through since
the cycle started is then filled in as history imported from the coordinator's
spreadsheet, in one transaction of scheduling's own: the pairs' formation is dated on the
cycle's first day (matching keeps today's date) and re-planned, and meetings are imported
for three pairs in four (every month for half of the pairs, only the first month for a
quarter); each imported meeting emits its `MeetingHeld` through the outbox like a logged
one; the kick-off held a week into the cycle is imported with its attendance sheet. The
clock worker then finds the passed months and the silent pairs on its own and
emits `MeetingMissed` and `PairAtRisk`. Then the coordinator's commands create the mid-way
and closing group meetings and a training, inviting the pairs. A participant's portal
link is printed (her link as the coordinator would e-mail it; of link generation 0, so
refused once a coordinator has revoked her links: scheduling does not read intake's tables,
and the demo's printed link is for a fresh demo).

Everything is made up and deterministic; running it again changes nothing.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid5

import nats
import sqlalchemy as sa

from services.intake.portal import DEFAULT_VALIDITY, make_link
from services.scheduling import domain, schedule
from services.scheduling import models as m
from shared import natsauth
from shared.bus import connect_options
from shared.clock import Clock, SystemClock
from shared.commands import (
    CommandRejected,
    ConfirmPairs,
    CreateGroupMeeting,
    CreateTraining,
    ProposeMatches,
    ServiceUnavailable,
    send,
)
from shared.db import make_engine, make_sessionmaker
from shared.envelope import Envelope
from shared.events import MeetingHeld, MeetingMode
from shared.outbox import Outbox
from shared.settings import Settings

DEMO_ORGANISATION = UUID("00000000-0000-4000-8000-000000000001")
DEMO_RUNNING_CYCLE = UUID("00000000-0000-4000-8000-000000000005")
"""The ids intake's seed gives the demo organisation and its running cycle."""
_IMPORTED = UUID("3b7f0c2e-5d9a-4e61-8f3c-2a1b0c9d8e70")
WAIT_SECONDS = 60.0


async def _command(nc: Any, command: Any, clock: Clock) -> dict[str, Any]:
    return await send(nc, command, organisation_id=DEMO_ORGANISATION, clock=clock, wait_seconds=30)


async def _until(check: Any, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise TimeoutError(f"demo: gave up waiting for {what}")
        await asyncio.sleep(0.5)


async def form_pairs(nc: Any, clock: Clock) -> int:
    """Propose once matching knows the whole cohort (the count stops growing), confirm."""
    seen: list[int] = []

    async def settled() -> dict[str, Any] | None:
        try:
            reply = await _command(nc, ProposeMatches(cycle_id=DEMO_RUNNING_CYCLE), clock)
        except CommandRejected:  # matching has not heard of the cycle yet
            return None
        seen.append(reply["pairs"] + reply["unmatched"])
        stable = len(seen) >= 4 and seen[-1] > 0 and len(set(seen[-4:])) == 1
        return reply if stable else None

    proposal = await _until(settled, "matching to know the running cycle's applicants")
    await _command(
        nc, ConfirmPairs(cycle_id=DEMO_RUNNING_CYCLE, run_id=UUID(proposal["run_id"])), clock
    )
    return int(proposal["pairs"])


def _meeting_days(index: int, starts_on: date, today: date) -> list[date]:
    """Half the pairs met every month so far, a quarter only in the first, a quarter never."""
    if index % 4 == 3:
        return []
    days = []
    month = starts_on.replace(day=1)
    while month <= today:
        held = max(month.replace(day=12 + index % 10), starts_on + timedelta(days=3))
        if held < today and held.month == month.month:
            days.append(held)
        month = domain.last_of_month(month) + timedelta(days=1)
    return days[:1] if index % 4 == 2 else days


async def import_history(sessions: Any, clock: Clock) -> int:
    """Formation on the cycle's first day, re-planned; meetings imported with MeetingHeld."""
    outbox = Outbox(service="scheduling", table=m.outbox)
    now = clock.now()
    today = domain.local_date(now)
    imported = 0
    async with sessions() as session, session.begin():
        cycle = await schedule.cycle_row(session, DEMO_RUNNING_CYCLE)
        pairs = (
            await session.execute(
                sa.select(m.pairs)
                .where(m.pairs.c.cycle_id == DEMO_RUNNING_CYCLE)
                .order_by(m.pairs.c.mentee_id)
                .with_for_update()
            )
        ).all()
        formed_at = domain.helsinki_datetime(cycle.starts_on, time(10))
        for index, pair in enumerate(pairs):
            if pair.formed_at <= formed_at:  # imported already
                continue
            pm, jobs = m.planned_meetings, m.jobs
            await session.execute(
                jobs.delete().where(
                    jobs.c.pair_id == pair.pair_id,
                    jobs.c.kind.in_(("missed_check", "at_risk_check")),
                    jobs.c.fired_at.is_(None),
                )
            )
            await session.execute(pm.delete().where(pm.c.pair_id == pair.pair_id))
            await session.execute(
                m.pairs.update()
                .where(m.pairs.c.pair_id == pair.pair_id)
                .values(formed_at=formed_at, plan_basis=None)
            )
            for held_on in _meeting_days(index, cycle.starts_on, today):
                meeting_id = uuid5(_IMPORTED, f"{pair.pair_id}:{held_on}")
                minutes, mode = (
                    45 + 15 * (index % 4),
                    (MeetingMode.ONLINE if index % 2 else MeetingMode.IN_PERSON),
                )
                topics = (
                    ("job_search_strategy", "networking") if index % 2 else ("finnish_at_work",)
                )
                await session.execute(
                    m.meetings.insert().values(
                        meeting_id=meeting_id,
                        organisation_id=DEMO_ORGANISATION,
                        pair_id=pair.pair_id,
                        cycle_id=DEMO_RUNNING_CYCLE,
                        held_on=held_on,
                        minutes=minutes,
                        mode=mode.value,
                        topic_codes=list(topics),
                        logged_by="coordinator",
                        logged_at=now,
                        command_id=meeting_id,
                    )
                )
                event = MeetingHeld(
                    meeting_id=meeting_id,
                    pair_id=pair.pair_id,
                    cycle_id=DEMO_RUNNING_CYCLE,
                    held_on=held_on,
                    minutes=minutes,
                    mode=mode,
                    topic_codes=topics,
                )
                await outbox.add(
                    session, Envelope.wrap(event, organisation_id=DEMO_ORGANISATION, clock=clock)
                )
                imported += 1
            replanned = await schedule.pair_row(session, pair.pair_id)
            await schedule.plan_pair(session, replanned, now)
        await _kick_off(session, cycle.starts_on, pairs, now)
    return imported


async def _kick_off(session: Any, starts_on: date, pairs: Any, now: datetime) -> None:
    """The kick-off a week into the cycle, with its attendance sheet (imported history)."""
    gm = m.group_meetings
    held = await session.scalar(
        sa.select(gm.c.id).where(gm.c.cycle_id == DEMO_RUNNING_CYCLE, gm.c.kind == "kick_off")
    )
    if held is not None:
        return
    event_id = uuid5(_IMPORTED, "kick_off")
    day = starts_on + timedelta(days=6)
    await session.execute(
        gm.insert().values(
            id=event_id,
            organisation_id=DEMO_ORGANISATION,
            cycle_id=DEMO_RUNNING_CYCLE,
            kind="kick_off",
            starts_at=domain.helsinki_datetime(day, time(17)),
            ends_at=domain.helsinki_datetime(day, time(19, 30)),
            place="Väestöliitto, Kalevankatu 16, Helsinki",
            created_at=now,
        )
    )
    for index, person_id in enumerate(schedule.people_of(pairs)):
        came = index % 5 != 4
        await session.execute(
            m.invitations.insert().values(
                event_id=event_id,
                person_id=person_id,
                organisation_id=DEMO_ORGANISATION,
                event_kind="group_meeting",
                invited_at=now,
                rsvp="yes" if came else None,
                attended=came,
                attendance_at=now,
            )
        )


async def create_events(nc: Any, clock: Clock, starts_on: date, ends_on: date) -> None:
    """The mid-way and closing group meetings and a training, by the coordinator's commands."""
    today = clock.now().date()

    def at(day: date, hour: int) -> datetime:
        return domain.helsinki_datetime(day, time(hour))

    midway = today + timedelta(days=12)
    closing = max(ends_on - timedelta(days=7), today + timedelta(days=30))
    training = today + timedelta(days=5)
    for command in (
        CreateGroupMeeting(
            cycle_id=DEMO_RUNNING_CYCLE,
            kind="midway",
            starts_at=at(midway, 17),
            ends_at=at(midway, 19),
            place="Väestöliitto, Kalevankatu 16, Helsinki",
        ),
        CreateGroupMeeting(
            cycle_id=DEMO_RUNNING_CYCLE,
            kind="closing",
            starts_at=at(closing, 17),
            ends_at=at(closing, 20),
            place="Kulttuurikeskus Caisa, Helsinki",
        ),
        CreateTraining(
            title="Työhaastatteluun valmistautuminen / Preparing for a job interview",
            starts_at=at(training, 17),
            ends_at=at(training, 19),
            online_url="https://meet.example.org/womento-interview",
            capacity=25,
        ),
    ):
        await _command(nc, command, clock)


async def main(settings: Settings, clock: Clock) -> str:
    engine = make_engine(settings, pool_size=1)
    sessions = make_sessionmaker(engine)
    nc = await nats.connect(settings.nats_url, **connect_options(settings, natsauth.ADMIN))
    try:

        async def pairs_known() -> int:
            async with sessions() as session:
                count = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(m.pairs)
                    .where(m.pairs.c.cycle_id == DEMO_RUNNING_CYCLE)
                )
            return int(count or 0)

        async def cycle_known() -> bool:
            async with sessions() as session:
                return await schedule.cycle_row(session, DEMO_RUNNING_CYCLE) is not None

        await _until(cycle_known, "scheduling to know the running cycle")
        fresh = await pairs_known() == 0
        if fresh:
            formed = await form_pairs(nc, clock)

            async def all_planned() -> bool:
                return await pairs_known() >= formed

            await _until(all_planned, "scheduling to plan the new pairs")
        imported = await import_history(sessions, clock)
        async with sessions() as session:
            cycle = await schedule.cycle_row(session, DEMO_RUNNING_CYCLE)
            has_events = await session.scalar(
                sa.select(sa.func.count())
                .select_from(m.group_meetings)
                .where(
                    m.group_meetings.c.cycle_id == DEMO_RUNNING_CYCLE,
                    m.group_meetings.c.kind == "midway",
                )
            )
            pair = (
                await session.execute(
                    sa.select(m.pairs)
                    .where(m.pairs.c.cycle_id == DEMO_RUNNING_CYCLE)
                    .order_by(m.pairs.c.mentee_id)
                    .limit(1)
                )
            ).one()
        if not has_events:
            await create_events(nc, clock, cycle.starts_on, cycle.ends_on)
        link = make_link(
            settings.secret_key,
            pair.mentee_id,
            pair.pair_id,
            clock.now() + DEFAULT_VALIDITY,
            cycle_id=DEMO_RUNNING_CYCLE,
        )
        base = settings.public_base_url.rstrip("/")
        status = "added" if fresh else "present"
        return (
            f"running cycle's schedule {status} in scheduling ({await pairs_known()} pairs, "
            f"{imported} meetings imported)\n  participant portal (a mentee's personal link): "
            f"{base}/portal/{link}"
        )
    finally:
        await nc.close()
        await engine.dispose()


if __name__ == "__main__":
    try:
        print(asyncio.run(main(Settings(service="scheduling"), SystemClock())))
    except (TimeoutError, ServiceUnavailable, CommandRejected) as problem:
        print(f"running cycle's schedule not added: {problem}")
    sys.exit(0)
