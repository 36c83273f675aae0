"""The clock worker: fires the durable due jobs of `scheduling.jobs`.

The claiming, firing once, marking and retrying are `shared/jobs.py`'s `JobRunner` (every
tick, `WOMENTO_SCHEDULING_TICK_SECONDS`, and at start: due jobs one at a time with
`FOR UPDATE SKIP LOCKED`, each fired in the transaction that marks it fired, a failing one
retried later with backoff without blocking the jobs behind it). This module is what a job
does when it fires:

- `at_risk_check`: the pair is flagged (`PairAtRisk`) if it has gone longer than cadence +
  grace days without a logged meeting, unless it is flagged already;
- `missed_check`: a planned month that passed without a meeting is marked missed
  (`MeetingMissed`);
- `reminder`: a `ReminderDue` for each person invited to the group meeting or training who
  has not declined it and is in a current pair; intake e-mails it in her language, once per
  `reminder_id`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, schedule
from services.scheduling import models as m
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import Event, MeetingMissed, PairAtRisk, ReminderDue
from shared.jobs import JobRunner
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

TICK_ENV = "WOMENTO_SCHEDULING_TICK_SECONDS"


def runner(outbox: Outbox, clock: Clock) -> JobRunner:
    """The runner of `scheduling.jobs`, firing with `fire`; `.fire_due` is one pass."""

    async def fire_job(session: AsyncSession, job: Any, now: datetime) -> None:
        await fire(session, job, outbox, clock, now)

    return JobRunner(m.jobs, fire_job, TICK_ENV, logger=log)


async def clock_worker(runtime: Runtime) -> None:
    """Fire due jobs now and every tick until cancelled."""
    await runner(runtime.outbox, runtime.clock).run(runtime.sessionmaker, runtime.clock)


async def fire(
    session: AsyncSession, job: Any, outbox: Outbox, clock: Clock, now: datetime
) -> None:
    if job.kind == "at_risk_check":
        await _at_risk_check(session, job, outbox, clock, now)
    elif job.kind == "missed_check":
        await _missed_check(session, job, outbox, clock, now)
    elif job.kind == "reminder":
        await _reminder(session, job, outbox, clock)
    else:  # pragma: no cover - the table's check constraint forbids it
        raise ValueError(f"unknown job kind {job.kind!r}")


async def _emit(
    session: AsyncSession, outbox: Outbox, clock: Clock, event: Event, job: Any
) -> None:
    await outbox.add(
        session, Envelope.wrap(event, organisation_id=job.organisation_id, clock=clock)
    )


async def _at_risk_check(
    session: AsyncSession, job: Any, outbox: Outbox, clock: Clock, now: datetime
) -> None:
    pair = await schedule.pair_row(session, job.pair_id, lock=True)
    if pair is None or pair.ended_at is not None:
        return
    formed_on = domain.local_date(pair.formed_at)
    rhythm = schedule.rhythm_for(await schedule.cycle_row(session, pair.cycle_id), formed_on)
    last = await schedule.last_meeting_on(session, pair.pair_id)
    today = domain.local_date(now)
    status = domain.pair_status(last, formed_on, today, rhythm.cadence_days, rhythm.grace_days)
    if status != "at_risk":
        # A meeting came in meanwhile (its log re-schedules the check; this is a safety net).
        await schedule.reschedule_at_risk_check(session, pair, now)
        return
    flagged = await session.scalar(
        insert(m.at_risk)
        .values(
            id=schedule.job_key("at_risk", job.job_id),
            pair_id=pair.pair_id,
            organisation_id=pair.organisation_id,
            cycle_id=pair.cycle_id,
            last_meeting_on=last,
            flagged_at=now,
        )
        .on_conflict_do_nothing()
        .returning(m.at_risk.c.id)
    )
    if flagged is None:  # flagged already and not cleared since
        return
    await _emit(
        session,
        outbox,
        clock,
        PairAtRisk(
            pair_id=pair.pair_id, cycle_id=pair.cycle_id, last_meeting_on=last, flagged_at=now
        ),
        job,
    )


async def _missed_check(
    session: AsyncSession, job: Any, outbox: Outbox, clock: Clock, now: datetime
) -> None:
    pm = m.planned_meetings
    month = date.fromisoformat(job.payload["month"])
    planned = (
        await session.execute(
            sa.select(pm).where(pm.c.pair_id == job.pair_id, pm.c.month == month).with_for_update()
        )
    ).one_or_none()
    pair = await schedule.pair_row(session, job.pair_id)
    if planned is None or planned.missed_at is not None or pair is None:
        return
    if pair.ended_at is not None and domain.local_date(pair.ended_at) <= planned.due_on:
        return
    held = (
        await session.scalars(
            sa.select(m.meetings.c.held_on).where(
                m.meetings.c.pair_id == job.pair_id,
                m.meetings.c.held_on >= planned.month,
                m.meetings.c.held_on <= planned.due_on,
            )
        )
    ).all()
    plan = [domain.PlannedMeeting(job.pair_id, planned.month, planned.due_on)]
    if not domain.missed_months(plan, list(held), domain.local_date(now)):
        return
    await session.execute(
        pm.update().where(pm.c.pair_id == job.pair_id, pm.c.month == month).values(missed_at=now)
    )
    await _emit(
        session,
        outbox,
        clock,
        MeetingMissed(pair_id=pair.pair_id, cycle_id=pair.cycle_id, month=month),
        job,
    )


async def _reminder(session: AsyncSession, job: Any, outbox: Outbox, clock: Clock) -> None:
    """One `ReminderDue` per invited person who has not declined and is still in a current
    pair of the organisation (someone whose mentoring ended early is not reminded); nothing
    if the event is gone, cancelled or has already started (a reminder fired late after an
    outage)."""
    event_kind = job.payload.get("event_kind")
    table = m.group_meetings if event_kind == "group_meeting" else m.trainings
    event = (
        await session.execute(sa.select(table).where(table.c.id == job.event_id))
    ).one_or_none()
    if event is None or event.cancelled_at is not None or event.starts_at <= clock.now():
        return
    inv, p = m.invitations, m.pairs
    in_a_current_pair = (
        sa.select(p.c.mentee_id)
        .where(p.c.organisation_id == job.organisation_id, p.c.ended_at.is_(None))
        .union(
            sa.select(p.c.mentor_id).where(
                p.c.organisation_id == job.organisation_id, p.c.ended_at.is_(None)
            )
        )
    )
    people = (
        await session.scalars(
            sa.select(inv.c.person_id)
            .where(
                inv.c.event_id == job.event_id,
                inv.c.rsvp.is_distinct_from("no"),
                inv.c.person_id.in_(in_a_current_pair),
            )
            .order_by(inv.c.person_id)
        )
    ).all()
    is_group = event_kind == "group_meeting"
    for person_id in people:
        await _emit(
            session,
            outbox,
            clock,
            ReminderDue(
                reminder_id=schedule.job_key("reminder", job.job_id, person_id),
                person_id=person_id,
                event_id=event.id,
                event_kind="group_meeting" if is_group else "training",
                meeting_kind=event.kind if is_group else None,
                cycle_id=event.cycle_id if is_group else None,
                title=None if is_group else event.title[:200],
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                place=event.place[:300] if event.place else None,
                online_url=event.online_url[:500] if event.online_url else None,
            ),
            job,
        )
