"""Surveys, persistence: the cycle's surveys from the programme's current templates, each
participant's invitations and their durable jobs, withdrawals. Every function writes through
the caller's session (the consumer's or the command's transaction) and never commits.

"now" is the caller's: the event's time in handlers, the clock in the worker and commands.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import models as m
from services.feedback import survey_domain as domain

log = logging.getLogger(__name__)


async def current_template(
    session: AsyncSession, organisation_id: UUID, programme_id: UUID | None, kind: str, role: str
) -> tuple[int, list[dict[str, Any]], str]:
    """(version, questions, source) in force for the programme: its latest saved version,
    else the organisation's, else the shipped default (source "programme", "organisation",
    "default")."""
    t = m.survey_templates
    scopes: list[tuple[Any, str]] = [(t.c.programme_id.is_(None), "organisation")]
    if programme_id is not None:
        scopes.insert(0, (t.c.programme_id == programme_id, "programme"))
    for scope, source in scopes:
        row = (
            await session.execute(
                sa.select(t.c.version, t.c.questions)
                .where(
                    t.c.organisation_id == organisation_id,
                    scope,
                    t.c.kind == kind,
                    t.c.role == role,
                )
                .order_by(t.c.version.desc())
                .limit(1)
            )
        ).one_or_none()
        if row is not None:
            return row.version, list(row.questions), source
    return domain.DEFAULT_VERSION, domain.default_questions(kind, role), "default"


async def remember_cycle(
    session: AsyncSession,
    *,
    cycle_id: UUID,
    organisation_id: UUID,
    programme_id: UUID,
    starts_on: Any,
    ends_on: Any,
    now: datetime,
) -> None:
    """Keep the cycle, create its surveys and invite the participants already known."""
    await session.execute(
        insert(m.cycles)
        .values(
            cycle_id=cycle_id,
            organisation_id=organisation_id,
            programme_id=programme_id,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        .on_conflict_do_nothing()
    )
    for kind in domain.KINDS:
        opened = domain.opens_on(kind, starts_on, ends_on)
        for role in domain.ROLES:
            version, questions, _ = await current_template(
                session, organisation_id, programme_id, kind, role
            )
            if not questions:
                continue
            await session.execute(
                insert(m.surveys)
                .values(
                    survey_id=uuid4(),
                    organisation_id=organisation_id,
                    cycle_id=cycle_id,
                    kind=kind,
                    role=role,
                    template_version=version,
                    questions=questions,
                    opens_on=opened,
                    closes_on=domain.closes_on(opened),
                )
                .on_conflict_do_nothing(constraint="surveys_one_per_kind_role")
            )
    await plan_invitations(session, cycle_id, now)


async def add_participant(
    session: AsyncSession,
    *,
    application_id: UUID,
    person_id: UUID,
    cycle_id: UUID,
    organisation_id: UUID,
    role: str,
    now: datetime,
) -> None:
    """An accepted applicant: invited to her role's surveys of the cycle (if it is known),
    unless her application's withdrawal arrived first."""
    withdrawn_at = await session.scalar(
        sa.select(m.survey_withdrawals.c.withdrawn_at).where(
            m.survey_withdrawals.c.application_id == application_id
        )
    )
    await session.execute(
        insert(m.participants)
        .values(
            person_id=person_id,
            cycle_id=cycle_id,
            organisation_id=organisation_id,
            role=role,
            accepted_at=now,
            withdrawn_at=withdrawn_at,
        )
        .on_conflict_do_nothing()
    )
    if withdrawn_at is None:
        await plan_invitations(session, cycle_id, now, person_id=person_id)


async def plan_invitations(
    session: AsyncSession, cycle_id: UUID, now: datetime, *, person_id: UUID | None = None
) -> int:
    """One invitation (with its job) per active participant and survey of her role that
    has not closed; idempotent. Returns how many were added."""
    p, s = m.participants, m.surveys
    query = (
        sa.select(
            p.c.person_id, p.c.organisation_id, s.c.survey_id, s.c.kind, s.c.opens_on, s.c.closes_on
        )
        .join(s, sa.and_(s.c.cycle_id == p.c.cycle_id, s.c.role == p.c.role))
        .where(p.c.cycle_id == cycle_id, p.c.withdrawn_at.is_(None))
    )
    if person_id is not None:
        query = query.where(p.c.person_id == person_id)
    added = 0
    for row in (await session.execute(query)).all():
        due = domain.invitation_due(row.opens_on, row.closes_on, now)
        if due is None:
            continue
        invitation_id = await session.scalar(
            insert(m.invitations)
            .values(
                invitation_id=uuid4(),
                survey_id=row.survey_id,
                organisation_id=row.organisation_id,
                cycle_id=cycle_id,
                person_id=row.person_id,
                kind=row.kind,
                due_at=due,
            )
            .on_conflict_do_nothing(constraint="invitations_one_per_person")
            .returning(m.invitations.c.invitation_id)
        )
        if invitation_id is None:
            continue
        await add_job(session, row.organisation_id, invitation_id, "invite", due)
        added += 1
    return added


async def add_job(
    session: AsyncSession, organisation_id: UUID, invitation_id: UUID, kind: str, due: datetime
) -> None:
    await session.execute(
        insert(m.survey_jobs)
        .values(
            job_id=uuid4(),
            organisation_id=organisation_id,
            invitation_id=invitation_id,
            kind=kind,
            due_at=due,
        )
        .on_conflict_do_nothing(constraint="survey_jobs_one_per_kind")
    )


async def withdraw(
    session: AsyncSession,
    *,
    application_id: UUID,
    person_id: UUID,
    cycle_id: UUID,
    organisation_id: UUID,
    now: datetime,
) -> int:
    """She left the cycle: her unanswered invitations are cancelled and their jobs dropped;
    the withdrawal is kept for an acceptance that may be consumed after it. Returns how many
    invitations were cancelled."""
    await session.execute(
        insert(m.survey_withdrawals)
        .values(
            application_id=application_id,
            person_id=person_id,
            cycle_id=cycle_id,
            organisation_id=organisation_id,
            withdrawn_at=now,
        )
        .on_conflict_do_nothing()
    )
    known = await session.scalar(
        m.participants.update()
        .where(
            m.participants.c.person_id == person_id,
            m.participants.c.cycle_id == cycle_id,
            m.participants.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
        .returning(m.participants.c.person_id)
    )
    if known is None:
        log.info(
            "withdrawal of someone feedback does not know as a participant",
            extra={"person_id": str(person_id), "cycle_id": str(cycle_id)},
        )
    i = m.invitations
    cancelled = (
        await session.scalars(
            i.update()
            .where(
                i.c.person_id == person_id,
                i.c.cycle_id == cycle_id,
                i.c.completed_at.is_(None),
                i.c.cancelled_at.is_(None),
            )
            .values(cancelled_at=now)
            .returning(i.c.invitation_id)
        )
    ).all()
    if cancelled:
        await session.execute(
            m.survey_jobs.delete().where(
                m.survey_jobs.c.invitation_id.in_(cancelled), m.survey_jobs.c.fired_at.is_(None)
            )
        )
    return len(cancelled)


async def apply_to_unopened_surveys(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    programme_id: UUID,
    kind: str,
    role: str,
    version: int,
    questions: list[dict[str, Any]],
    now: datetime,
) -> int:
    """A new template version reaches the programme's cycles whose survey of this kind has
    not opened yet (none of its invitations sent): their survey takes the new questions, is
    created (and its invitations planned) if the template had none, or is removed with its
    planned invitations if the new template is empty. Opened surveys keep their snapshot.
    Returns how many cycles' surveys changed."""
    s, i, c = m.surveys, m.invitations, m.cycles
    today = domain.local_date(now)
    changed = 0
    cycles = (
        await session.execute(
            sa.select(c).where(
                c.c.organisation_id == organisation_id, c.c.programme_id == programme_id
            )
        )
    ).all()
    for cycle in cycles:
        opened = domain.opens_on(kind, cycle.starts_on, cycle.ends_on)
        if opened <= today:
            continue
        survey = (
            await session.execute(
                sa.select(s.c.survey_id)
                .where(s.c.cycle_id == cycle.cycle_id, s.c.kind == kind, s.c.role == role)
                .with_for_update()
            )
        ).one_or_none()
        if survey is not None:
            sent = await session.scalar(
                sa.select(sa.func.count())
                .select_from(i)
                .where(i.c.survey_id == survey.survey_id, i.c.invited_at.is_not(None))
            )
            if sent:
                continue
        if survey is not None and not questions:
            planned = sa.select(i.c.invitation_id).where(i.c.survey_id == survey.survey_id)
            await session.execute(
                m.survey_jobs.delete().where(m.survey_jobs.c.invitation_id.in_(planned))
            )
            await session.execute(i.delete().where(i.c.survey_id == survey.survey_id))
            await session.execute(s.delete().where(s.c.survey_id == survey.survey_id))
        elif survey is not None:
            await session.execute(
                s.update()
                .where(s.c.survey_id == survey.survey_id)
                .values(template_version=version, questions=questions)
            )
        elif questions:
            await session.execute(
                insert(s).values(
                    survey_id=uuid4(),
                    organisation_id=organisation_id,
                    cycle_id=cycle.cycle_id,
                    kind=kind,
                    role=role,
                    template_version=version,
                    questions=questions,
                    opens_on=opened,
                    closes_on=domain.closes_on(opened),
                )
            )
            await plan_invitations(session, cycle.cycle_id, now)
        else:
            continue
        changed += 1
    return changed
