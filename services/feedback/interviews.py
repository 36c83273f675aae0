"""Coordinator interviews with each mentee at set points of her cycle, and their private
notes, encrypted under her key (`feedback.person_keys`, `shared.crypto`).

Interviews are planned from what feedback knows (the cycle's dates and its accepted,
not withdrawn mentees): `ensure_planned` adds the missing ones, idempotently, whenever a
coordinator looks at the cycle's outcomes or acts on an interview. Planning at read time
keeps this module off the `ApplicantAccepted` / `CycleOpened` consumers (one durable
consumer per event and service, owned by the surveys) and copes with either arriving first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import models as m
from services.feedback.keys import encrypt_for, wrapped_keys
from shared.commands import (
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    RecordInterview,
    ScheduleInterview,
)
from shared.crypto import PersonalDataVault, vault_for
from shared.settings import Settings

HELSINKI = ZoneInfo("Europe/Helsinki")
POINTS = ("start", "midway", "end")
FIRST_WEEKS = timedelta(days=14)
"""The start interview two weeks into the cycle, the end one two weeks before it ends."""
SCHEDULE_SLACK = timedelta(days=200)
"""An interview may be moved up to this long before the cycle starts or after it ends."""


# --- pure rules -----------------------------------------------------------------------------


def planned_dates(starts_on: date, ends_on: date) -> dict[str, date]:
    """The set points of a cycle: two weeks in, half-way, two weeks before the end."""
    midway = starts_on + (ends_on - starts_on) // 2
    start = min(starts_on + FIRST_WEEKS, midway)
    end = max(ends_on - FIRST_WEEKS, midway)
    return {"start": start, "midway": midway, "end": end}


def schedule_problem(day: date, starts_on: date, ends_on: date) -> str | None:
    if day < starts_on - SCHEDULE_SLACK or day > ends_on + SCHEDULE_SLACK:
        return "outside_cycle"
    return None


def held_problem(held_on: date, today: date, starts_on: date) -> str | None:
    if held_on > today:
        return "in_the_future"
    if held_on < starts_on - SCHEDULE_SLACK:
        return "outside_cycle"
    return None


# --- keys and notes -------------------------------------------------------------------------


class _HasSettings(Protocol):
    settings: Settings


def vault_of(ctx: CommandContext) -> PersonalDataVault:
    """The vault of the service's secret key (the context is the service's runtime)."""
    return vault_for(cast(_HasSettings, ctx).settings.secret_key)


async def decrypted_notes(
    session: AsyncSession, vault: PersonalDataVault, rows: list[Any]
) -> dict[UUID, str | None]:
    """Each interview's notes in clear (None when none, or when her key was erased)."""
    people = {row.person_id for row in rows if row.notes_ciphertext is not None}
    keys = await wrapped_keys(session, people)
    notes: dict[UUID, str | None] = {}
    for row in rows:
        key = keys.get(row.person_id)
        if row.notes_ciphertext is None or key is None:
            notes[row.interview_id] = None
            continue
        found = vault.decrypt(key, row.person_id, bytes(row.notes_ciphertext))
        notes[row.interview_id] = str(found.get("notes", ""))
    return notes


# --- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleDates:
    starts_on: date
    ends_on: date


async def cycle_dates(
    session: AsyncSession, organisation_id: UUID, cycle_id: UUID
) -> CycleDates | None:
    row = (
        await session.execute(
            sa.select(m.cycles.c.starts_on, m.cycles.c.ends_on).where(
                m.cycles.c.cycle_id == cycle_id, m.cycles.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()
    return CycleDates(row.starts_on, row.ends_on) if row is not None else None


async def ensure_planned(
    session: AsyncSession, organisation_id: UUID, cycle_id: UUID, now: datetime
) -> int:
    """Plan the interviews of the cycle's active mentees who have none yet (a moved or
    recorded one is never planned again); how many were added."""
    dates = await cycle_dates(session, organisation_id, cycle_id)
    if dates is None:
        return 0
    p, i = m.participants, m.interviews
    planned_already = sa.exists().where(
        i.c.cycle_id == p.c.cycle_id, i.c.person_id == p.c.person_id
    )
    mentees = (
        await session.scalars(
            sa.select(p.c.person_id).where(
                p.c.cycle_id == cycle_id,
                p.c.organisation_id == organisation_id,
                p.c.role == "mentee",
                p.c.withdrawn_at.is_(None),
                ~planned_already,
            )
        )
    ).all()
    planned = planned_dates(dates.starts_on, dates.ends_on)
    rows = [
        {
            "interview_id": uuid4(),
            "organisation_id": organisation_id,
            "cycle_id": cycle_id,
            "person_id": person_id,
            "point": point,
            "scheduled_on": planned[point],
            "updated_at": now,
        }
        for person_id in mentees
        for point in POINTS
    ]
    if not rows:
        return 0
    result = await session.execute(
        insert(m.interviews)
        .on_conflict_do_nothing(constraint="interviews_one_per_point")
        .returning(m.interviews.c.interview_id),
        rows,
    )
    return len(result.all())


# --- commands -------------------------------------------------------------------------------


async def _interview(session: AsyncSession, interview_id: UUID, organisation_id: UUID) -> Any:
    row = (
        await session.execute(
            sa.select(m.interviews, m.cycles.c.starts_on, m.cycles.c.ends_on)
            .join(m.cycles, m.cycles.c.cycle_id == m.interviews.c.cycle_id)
            .where(
                m.interviews.c.interview_id == interview_id,
                m.interviews.c.organisation_id == organisation_id,
            )
            .with_for_update(of=m.interviews)
        )
    ).one_or_none()
    if row is None:
        raise CommandRejected(
            "unknown_interview", "feedback knows no such interview", "interview_id"
        )
    return row


async def schedule_interview(
    session: AsyncSession,
    command: ScheduleInterview,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Move an interview to another day (within the cycle, give or take its slack)."""
    row = await _interview(session, command.interview_id, envelope.organisationid)
    problem = schedule_problem(command.scheduled_on, row.starts_on, row.ends_on)
    if problem is not None:
        raise CommandRejected(problem, "the day is too far from the cycle", "scheduled_on")
    await session.execute(
        m.interviews.update()
        .where(m.interviews.c.interview_id == row.interview_id)
        .values(
            scheduled_on=command.scheduled_on,
            updated_by=command.coordinator_id,
            updated_at=ctx.clock.now(),
        )
    )
    return {"interview_id": str(row.interview_id), "scheduled_on": command.scheduled_on.isoformat()}


async def record_interview(
    session: AsyncSession,
    command: RecordInterview,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """The interview was held: its day and the coordinator's notes, encrypted under her key
    (empty notes keep none)."""
    row = await _interview(session, command.interview_id, envelope.organisationid)
    now = ctx.clock.now()
    problem = held_problem(command.held_on, now.astimezone(HELSINKI).date(), row.starts_on)
    if problem is not None:
        messages = {
            "in_the_future": "an interview cannot be recorded before the day it is held",
            "outside_cycle": "the day is too far from the cycle",
        }
        raise CommandRejected(problem, messages[problem], "held_on")
    notes = command.notes.strip()
    ciphertext = None
    if notes:
        ciphertext = await encrypt_for(
            session, vault_of(ctx), envelope.organisationid, row.person_id, {"notes": notes}
        )
    await session.execute(
        m.interviews.update()
        .where(m.interviews.c.interview_id == row.interview_id)
        .values(
            held_on=command.held_on,
            notes_ciphertext=ciphertext,
            updated_by=command.coordinator_id,
            updated_at=now,
        )
    )
    return {"interview_id": str(row.interview_id), "held_on": command.held_on.isoformat()}
