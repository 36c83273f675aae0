"""The clock worker of feedback: fires the durable jobs of `feedback.survey_jobs`.

The claiming, firing once, marking and retrying are `shared/jobs.py`'s `JobRunner`, the same
as scheduling's (every tick, `WOMENTO_FEEDBACK_TICK_SECONDS`, and at start: due jobs one at a
time with `FOR UPDATE SKIP LOCKED`, each fired in the transaction that marks it fired, so the
invitation's change, the outgoing `SurveyInvitationDue` (outbox) and `fired_at` commit
together; a failing job is retried later with backoff without blocking the jobs behind it).
This module is what a job does when it fires:

- `invite`: `SurveyInvitationDue(reminder=False)`, the invitation's `invited_at`, and a
  `remind` job `REMINDER_AFTER_DAYS` later if the survey is still open then;
- `remind`: `SurveyInvitationDue(reminder=True)` unless she has answered, left, or the survey
  has closed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import models as m
from services.feedback import survey_domain as domain
from services.feedback import survey_service
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import SurveyInvitationDue, SurveyKind
from shared.jobs import JobRunner
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger(__name__)

TICK_ENV = "WOMENTO_FEEDBACK_TICK_SECONDS"


def runner(outbox: Outbox, clock: Clock) -> JobRunner:
    """The runner of `feedback.survey_jobs`, firing with `fire`; `.fire_due` is one pass."""

    async def fire_job(session: AsyncSession, job: Any, now: datetime) -> None:
        await fire(session, job, outbox, clock, now)

    return JobRunner(
        m.survey_jobs,
        fire_job,
        TICK_ENV,
        noun="survey job",
        worker="the survey worker",
        logger=log,
    )


async def clock_worker(runtime: Runtime) -> None:
    """Fire due survey jobs now and every tick until cancelled."""
    await runner(runtime.outbox, runtime.clock).run(runtime.sessionmaker, runtime.clock)


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
