"""The schedule's bookkeeping in the database: planning a pair's months, its due jobs and
invitations. Called from the event handlers, the command handlers and the clock worker,
always inside the caller's transaction. The rules themselves are `domain`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain
from services.scheduling import models as m

DEFAULT_CADENCE_DAYS = 31
DEFAULT_GRACE_DAYS = 14
#: A pair formed before its cycle is known is planned for this many months from formation.
FALLBACK_MONTHS = 8
_JOBS = UUID("6f1d2a8e-3c1b-4b8e-9a51-5c0f2f4d7e10")


def midnight(day: date) -> datetime:
    """The start of `day` in Helsinki, as an aware instant."""
    return domain.helsinki_datetime(day, time(0, 0))


def job_key(*parts: object) -> UUID:
    """A deterministic job id, so that planning twice stores each job once."""
    return uuid5(_JOBS, ":".join(str(p) for p in parts))


@dataclass(frozen=True)
class Rhythm:
    """The dates and cadence a pair is planned with."""

    starts_on: date
    ends_on: date
    cadence_days: int
    grace_days: int
    basis: str  # "cycle" | "formation"


async def cycle_row(session: AsyncSession, cycle_id: UUID) -> Any:
    return (
        await session.execute(sa.select(m.cycles).where(m.cycles.c.cycle_id == cycle_id))
    ).one_or_none()


def rhythm_for(cycle: Any, formed_on: date) -> Rhythm:
    if cycle is not None:
        return Rhythm(cycle.starts_on, cycle.ends_on, cycle.cadence_days, cycle.grace_days, "cycle")
    start = domain.first_of_month(formed_on)
    index = start.year * 12 + start.month - 1 + FALLBACK_MONTHS - 1
    last = domain.last_of_month(date(index // 12, index % 12 + 1, 1))
    return Rhythm(formed_on, last, DEFAULT_CADENCE_DAYS, DEFAULT_GRACE_DAYS, "formation")


async def pair_row(session: AsyncSession, pair_id: UUID, *, lock: bool = False) -> Any:
    query = sa.select(m.pairs).where(m.pairs.c.pair_id == pair_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


async def last_meeting_on(session: AsyncSession, pair_id: UUID) -> date | None:
    latest: date | None = await session.scalar(
        sa.select(sa.func.max(m.meetings.c.held_on)).where(m.meetings.c.pair_id == pair_id)
    )
    return latest


async def plan_pair(session: AsyncSession, pair: Any, now: datetime) -> int:
    """Plan the pair's months (idempotent), their missed checks and its at-risk check."""
    formed_on = domain.local_date(pair.formed_at)
    rhythm = rhythm_for(await cycle_row(session, pair.cycle_id), formed_on)
    planned = domain.plan_pair_meetings(
        pair.pair_id, formed_on, rhythm.starts_on, rhythm.ends_on, rhythm.cadence_days
    )
    await session.execute(
        m.pairs.update().where(m.pairs.c.pair_id == pair.pair_id).values(plan_basis=rhythm.basis)
    )
    for meeting in planned:
        await session.execute(
            insert(m.planned_meetings)
            .values(pair_id=pair.pair_id, month=meeting.month, due_on=meeting.due_on)
            .on_conflict_do_nothing()
        )
        await add_job(
            session,
            job_id=job_key("missed_check", pair.pair_id, meeting.month),
            organisation_id=pair.organisation_id,
            kind="missed_check",
            due_at=midnight(meeting.due_on + timedelta(days=1)),
            pair_id=pair.pair_id,
            payload={"month": meeting.month.isoformat()},
            now=now,
        )
    await reschedule_at_risk_check(session, pair, now)
    return len(planned)


async def replan_from_cycle(session: AsyncSession, cycle_id: UUID, now: datetime) -> None:
    """Pairs planned from their formation (their cycle was not known yet) are planned again
    from the cycle's dates; months already found missed stay as they are."""
    provisional = (
        await session.execute(
            sa.select(m.pairs).where(
                m.pairs.c.cycle_id == cycle_id,
                m.pairs.c.plan_basis == "formation",
                m.pairs.c.ended_at.is_(None),
            )
        )
    ).all()
    for pair in provisional:
        await session.execute(
            m.jobs.delete().where(
                m.jobs.c.pair_id == pair.pair_id,
                m.jobs.c.kind == "missed_check",
                m.jobs.c.fired_at.is_(None),
            )
        )
        await session.execute(
            m.planned_meetings.delete().where(
                m.planned_meetings.c.pair_id == pair.pair_id,
                m.planned_meetings.c.missed_at.is_(None),
            )
        )
        await plan_pair(session, pair, now)


async def add_job(
    session: AsyncSession,
    *,
    kind: str,
    organisation_id: UUID,
    due_at: datetime,
    now: datetime,
    job_id: UUID | None = None,
    pair_id: UUID | None = None,
    event_id: UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(m.jobs)
        .values(
            job_id=job_id or uuid4(),
            organisation_id=organisation_id,
            kind=kind,
            due_at=due_at,
            pair_id=pair_id,
            event_id=event_id,
            payload=payload or {},
            created_at=now,
        )
        .on_conflict_do_nothing()
    )


async def reschedule_at_risk_check(session: AsyncSession, pair: Any, now: datetime) -> date:
    """Replace the pair's pending at-risk check by one on the day it would become at risk."""
    formed_on = domain.local_date(pair.formed_at)
    rhythm = rhythm_for(await cycle_row(session, pair.cycle_id), formed_on)
    await session.execute(
        m.jobs.delete().where(
            m.jobs.c.pair_id == pair.pair_id,
            m.jobs.c.kind == "at_risk_check",
            m.jobs.c.fired_at.is_(None),
        )
    )
    on = domain.at_risk_on(
        await last_meeting_on(session, pair.pair_id),
        formed_on,
        rhythm.cadence_days,
        rhythm.grace_days,
    )
    await add_job(
        session,
        kind="at_risk_check",
        organisation_id=pair.organisation_id,
        due_at=midnight(on),
        pair_id=pair.pair_id,
        payload={"at_risk_on": on.isoformat()},
        now=now,
    )
    return on


async def cancel_pair_jobs(session: AsyncSession, pair_id: UUID, now: datetime) -> None:
    """An ended pair: no more checks, and an open at-risk flag is closed."""
    await session.execute(
        m.jobs.delete().where(
            m.jobs.c.pair_id == pair_id,
            m.jobs.c.kind.in_(("at_risk_check", "missed_check")),
            m.jobs.c.fired_at.is_(None),
        )
    )
    await session.execute(
        m.at_risk.update()
        .where(m.at_risk.c.pair_id == pair_id, m.at_risk.c.cleared_at.is_(None))
        .values(cleared_at=now)
    )


# --- invitations and reminders --------------------------------------------------------------


async def invite(
    session: AsyncSession,
    *,
    event_id: UUID,
    event_kind: str,
    organisation_id: UUID,
    people: Sequence[UUID],
    now: datetime,
) -> None:
    for person_id in people:
        await session.execute(
            insert(m.invitations)
            .values(
                event_id=event_id,
                person_id=person_id,
                organisation_id=organisation_id,
                event_kind=event_kind,
                invited_at=now,
            )
            .on_conflict_do_nothing()
        )


def people_of(pairs: Sequence[Any]) -> list[UUID]:
    seen: dict[UUID, None] = {}
    for pair in pairs:
        seen.setdefault(pair.mentee_id)
        seen.setdefault(pair.mentor_id)
    return list(seen)


async def current_pairs(
    session: AsyncSession, organisation_id: UUID, cycle_id: UUID | None = None
) -> list[Any]:
    query = sa.select(m.pairs).where(
        m.pairs.c.organisation_id == organisation_id, m.pairs.c.ended_at.is_(None)
    )
    if cycle_id is not None:
        query = query.where(m.pairs.c.cycle_id == cycle_id)
    return list((await session.execute(query)).all())


async def invite_pair(session: AsyncSession, pair: Any, now: datetime) -> None:
    """A new pair's two people are invited to its cycle's group meetings and the
    organisation's trainings that have not started yet."""
    gm, tr = m.group_meetings, m.trainings
    upcoming = [
        (row.id, "group_meeting")
        for row in await session.execute(
            sa.select(gm.c.id).where(
                gm.c.cycle_id == pair.cycle_id, gm.c.starts_at > now, gm.c.cancelled_at.is_(None)
            )
        )
    ] + [
        (row.id, "training")
        for row in await session.execute(
            sa.select(tr.c.id).where(
                tr.c.organisation_id == pair.organisation_id,
                tr.c.starts_at > now,
                tr.c.cancelled_at.is_(None),
            )
        )
    ]
    for event_id, kind in upcoming:
        await invite(
            session,
            event_id=event_id,
            event_kind=kind,
            organisation_id=pair.organisation_id,
            people=[pair.mentee_id, pair.mentor_id],
            now=now,
        )


async def schedule_reminders(
    session: AsyncSession,
    *,
    event_id: UUID,
    event_kind: str,
    organisation_id: UUID,
    starts_at: datetime,
    now: datetime,
    times: Sequence[datetime] | None = None,
    sequence: int = 0,
) -> None:
    """Reminder jobs a week and a day before (those still ahead), for intake to e-mail; or
    at `times` (an event moved: `sequence` keeps them apart from its earlier reminders)."""
    for at in domain.reminder_times(starts_at, now) if times is None else times:
        key = (at.isoformat(),) if sequence == 0 else (at.isoformat(), sequence)
        await add_job(
            session,
            job_id=job_key("reminder", event_id, *key),
            kind="reminder",
            organisation_id=organisation_id,
            due_at=at,
            event_id=event_id,
            payload={"event_kind": event_kind, "starts_at": starts_at.isoformat()},
            now=now,
        )
