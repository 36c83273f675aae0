"""The clock worker of feedback: fires the durable jobs of `feedback.survey_jobs`.

The pattern of `services/scheduling/worker.py`: every tick (and at start) it claims due jobs
(`due_at <= clock.now()`, not fired) one at a time with `FOR UPDATE SKIP LOCKED` and fires each
in the transaction that marks it fired: the invitation's change, the outgoing
`SurveyInvitationDue` (through the outbox) and `fired_at` commit together or not at all. So a
job fires once, even with several copies of the service, and a job that fell due while the
service was down fires after the restart.

- `invite`: `SurveyInvitationDue(reminder=False)`, the invitation's `invited_at`, and a
  `remind` job `REMINDER_AFTER_DAYS` later if the survey is still open then;
- `remind`: `SurveyInvitationDue(reminder=True)` unless she has answered, left, or the survey
  has closed.

A job whose firing fails is retried with backoff (`attempts`, `last_error`), without blocking
the jobs behind it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.feedback import models as m
from services.feedback import survey_domain as domain
from services.feedback import survey_service
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import SurveyInvitationDue, SurveyKind
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

#: Seconds between two passes; `WOMENTO_FEEDBACK_TICK_SECONDS` (tests make it short).
DEFAULT_TICK_SECONDS = 5.0
MAX_RETRY = timedelta(hours=1)


def tick_seconds() -> float:
    return float(os.environ.get("WOMENTO_FEEDBACK_TICK_SECONDS", DEFAULT_TICK_SECONDS))


async def clock_worker(runtime: Runtime) -> None:
    """Fire due survey jobs now and every tick until cancelled."""
    tick = tick_seconds()
    while True:
        try:
            fired = await fire_due_jobs(runtime.sessionmaker, runtime.outbox, runtime.clock)
            if fired:
                log.info("survey jobs fired", extra={"jobs": fired})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the survey worker's pass failed; will try again")
        await asyncio.sleep(tick)


async def fire_due_jobs(
    sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox, clock: Clock
) -> int:
    """Fire every job due now, each in its own transaction; returns how many fired."""
    j = m.survey_jobs
    fired = 0
    skip: set[Any] = set()
    while True:
        now = clock.now()
        failed: tuple[Any, Exception] | None = None
        async with sessionmaker() as session, session.begin():
            job = (
                await session.execute(
                    sa.select(j)
                    .where(
                        j.c.fired_at.is_(None),
                        j.c.due_at <= now,
                        j.c.job_id.not_in(skip) if skip else sa.true(),
                    )
                    .order_by(j.c.due_at, j.c.job_id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if job is None:
                return fired
            try:
                async with session.begin_nested():
                    await fire(session, job, outbox, clock, now)
                    await session.execute(
                        j.update().where(j.c.job_id == job.job_id).values(fired_at=now)
                    )
                fired += 1
            except Exception as exc:
                failed = (job, exc)
                delay = min(timedelta(seconds=30) * 2 ** min(job.attempts, 10), MAX_RETRY)
                await session.execute(
                    j.update()
                    .where(j.c.job_id == job.job_id)
                    .values(
                        attempts=job.attempts + 1, last_error=repr(exc)[:500], due_at=now + delay
                    )
                )
        if failed is not None:
            skip.add(failed[0].job_id)
            log.error(
                "a survey job failed; it will be retried",
                exc_info=failed[1],
                extra={"job_id": str(failed[0].job_id), "kind": failed[0].kind},
            )


async def fire(
    session: AsyncSession, job: Any, outbox: Outbox, clock: Clock, now: datetime
) -> None:
    i, s = m.invitations, m.surveys
    row = (
        await session.execute(
            sa.select(i, s.c.closes_on)
            .join(s, s.c.survey_id == i.c.survey_id)
            .where(i.c.invitation_id == job.invitation_id)
            .with_for_update(of=i)
        )
    ).one_or_none()
    if row is None or row.cancelled_at is not None or row.completed_at is not None:
        return
    if domain.local_date(now) > row.closes_on:
        log.warning(
            "a survey job fell due after its survey closed; nothing sent",
            extra={"job_id": str(job.job_id), "invitation_id": str(row.invitation_id)},
        )
        return
    reminder = job.kind == "remind"
    if reminder and (row.invited_at is None or row.reminded_at is not None):
        return
    if not reminder and row.invited_at is not None:
        return
    event = SurveyInvitationDue(
        invitation_id=row.invitation_id,
        survey_id=row.survey_id,
        person_id=row.person_id,
        cycle_id=row.cycle_id,
        kind=SurveyKind(row.kind),
        closes_on=row.closes_on,
        reminder=reminder,
    )
    await outbox.add(
        session, Envelope.wrap(event, organisation_id=row.organisation_id, clock=clock)
    )
    if reminder:
        await session.execute(
            i.update().where(i.c.invitation_id == row.invitation_id).values(reminded_at=now)
        )
        return
    remind_at = domain.reminder_due(now, row.closes_on)
    await session.execute(
        i.update()
        .where(i.c.invitation_id == row.invitation_id)
        .values(invited_at=now, reminder_due_at=remind_at)
    )
    if remind_at is not None:
        await survey_service.add_job(
            session, row.organisation_id, row.invitation_id, "remind", remind_at
        )
