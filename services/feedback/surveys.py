"""Feedback's survey commands: templates (query, save a new version), one person's survey
(query) and her answers (once). Thin: checks in `survey_domain`, tables in `survey_service`.

Every command is scoped to the sending organisation; refusals name the field at fault.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import models as m
from services.feedback import survey_domain as domain
from services.feedback import survey_service
from services.feedback.keys import person_key
from shared.commands import (
    CheckSurveyTemplate,
    CommandContext,
    CommandEnvelope,
    CommandRejected,
    CommandRoute,
    GetSurvey,
    GetSurveyTemplates,
    SaveSurveyTemplate,
    SubmitSurveyResponse,
    emit,
)
from shared.crypto import vault_for
from shared.events import SurveyCompleted, SurveyKind

_ANSWER_MESSAGES = {
    "required": "this question must be answered",
    "out_of_range": f"the answer is a whole number from {domain.LIKERT_MIN} to {domain.LIKERT_MAX}",
    "not_an_option": "the answer is not one of the question's options",
    "too_long": f"the answer is at most {domain.MAX_TEXT_ANSWER} characters",
    "unknown_question": "the survey has no such question",
    "wrong_type": "the answer is not of the question's type",
}


async def get_survey_templates(
    session: AsyncSession,
    command: GetSurveyTemplates,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Every (kind, role) template in force for the programme, with its version and source."""
    templates = []
    for kind in domain.KINDS:
        for role in domain.ROLES:
            version, questions, source = await survey_service.current_template(
                session, envelope.organisationid, command.programme_id, kind, role
            )
            templates.append(
                {
                    "kind": kind,
                    "role": role,
                    "version": version,
                    "source": source,
                    "questions": questions,
                }
            )
    return {"programme_id": str(command.programme_id), "templates": templates}


async def check_survey_template(
    session: AsyncSession,
    command: CheckSurveyTemplate,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Every problem of the question list (the same check `SaveSurveyTemplate` applies)."""
    problems = domain.check_questions(command.questions)
    return {
        "problems": [{"field": p.field, "code": p.code, "message": p.message} for p in problems]
    }


async def save_survey_template(
    session: AsyncSession,
    command: SaveSurveyTemplate,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """A new version of the template; the programme's surveys not yet opened take it."""
    problems = domain.check_questions(command.questions)
    if problems:
        first = problems[0]
        raise CommandRejected(first.code, first.message, first.field)
    questions = domain.normalise_questions(command.questions)
    org, kind, role = envelope.organisationid, command.kind.value, command.role.value
    t = m.survey_templates
    await session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtext(f"{org}|{command.programme_id}|{kind}|{role}")
            )
        )
    )
    latest, _, _ = await survey_service.current_template(
        session, org, command.programme_id, kind, role
    )
    version = latest + 1
    now = ctx.clock.now()
    await session.execute(
        t.insert().values(
            template_id=uuid4(),
            organisation_id=org,
            programme_id=command.programme_id,
            kind=kind,
            role=role,
            version=version,
            questions=questions,
            updated_at=now,
            updated_by=command.updated_by,
        )
    )
    refreshed = await survey_service.apply_to_unopened_surveys(
        session,
        organisation_id=org,
        programme_id=command.programme_id,
        kind=kind,
        role=role,
        version=version,
        questions=questions,
        now=now,
    )
    return {"version": version, "surveys_updated": refreshed}


async def _invitation(
    session: AsyncSession,
    invitation_id: UUID,
    person_id: UUID,
    organisation_id: UUID,
    *,
    lock: bool,
) -> Any:
    i, s = m.invitations, m.surveys
    query = (
        sa.select(i, s.c.role, s.c.questions, s.c.opens_on, s.c.closes_on)
        .join(s, s.c.survey_id == i.c.survey_id)
        .where(
            i.c.invitation_id == invitation_id,
            i.c.person_id == person_id,
            i.c.organisation_id == organisation_id,
        )
    )
    if lock:
        query = query.with_for_update(of=i)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise CommandRejected("unknown_invitation", "no such survey invitation", "invitation_id")
    return row


def _status(row: Any, today: Any) -> str:
    if row.cancelled_at is not None:
        return "cancelled"
    if row.completed_at is not None:
        return "answered"
    return domain.survey_state(row.opens_on, row.closes_on, today)


async def get_survey(
    session: AsyncSession, command: GetSurvey, envelope: CommandEnvelope, ctx: CommandContext
) -> dict[str, Any]:
    """Her survey's questions and status: open, not_open, closed, answered or cancelled."""
    row = await _invitation(
        session, command.invitation_id, command.person_id, envelope.organisationid, lock=False
    )
    return {
        "invitation_id": str(row.invitation_id),
        "cycle_id": str(row.cycle_id),
        "kind": row.kind,
        "role": row.role,
        "status": _status(row, domain.local_date(ctx.clock.now())),
        "opens_on": row.opens_on.isoformat(),
        "closes_on": row.closes_on.isoformat(),
        "questions": row.questions,
    }


_STATUS_REFUSALS = {
    "cancelled": ("invitation_cancelled", "the invitation was cancelled"),
    "answered": ("already_answered", "this survey has been answered already"),
    "not_open": ("survey_not_open", "the survey is not open yet"),
    "closed": ("survey_closed", "the survey has closed"),
}


async def submit_survey_response(
    session: AsyncSession,
    command: SubmitSurveyResponse,
    envelope: CommandEnvelope,
    ctx: CommandContext,
) -> dict[str, Any]:
    """Store her answers (free text encrypted under her key) and emit `SurveyCompleted`, once."""
    now = ctx.clock.now()
    row = await _invitation(
        session, command.invitation_id, command.person_id, envelope.organisationid, lock=True
    )
    status = _status(row, domain.local_date(now))
    if status != "open":
        code, message = _STATUS_REFUSALS[status]
        raise CommandRejected(code, message, "invitation_id")
    try:
        checked = domain.check_answers(row.questions, dict(command.answers))
    except domain.AnswerProblems as bad:
        key, code = next(iter(bad.problems.items()))
        raise CommandRejected(code, _ANSWER_MESSAGES[code], f"answers.{key}") from None
    response_id = uuid4()
    await session.execute(
        m.responses.insert().values(
            response_id=response_id,
            invitation_id=row.invitation_id,
            survey_id=row.survey_id,
            organisation_id=row.organisation_id,
            cycle_id=row.cycle_id,
            person_id=row.person_id,
            role=row.role,
            kind=row.kind,
            answers=checked.closed,
            completed_at=now,
        )
    )
    if checked.texts:
        vault = vault_for(ctx.settings.secret_key)  # type: ignore[attr-defined]
        wrapped = await person_key(session, vault, row.organisation_id, row.person_id)
        for key, value in checked.texts.items():
            await session.execute(
                m.response_texts.insert().values(
                    response_id=response_id,
                    question_key=key,
                    ciphertext=vault.encrypt(wrapped, row.person_id, {"text": value}),
                )
            )
    await session.execute(
        m.invitations.update()
        .where(m.invitations.c.invitation_id == row.invitation_id)
        .values(completed_at=now)
    )
    await session.execute(
        m.survey_jobs.delete().where(
            m.survey_jobs.c.invitation_id == row.invitation_id, m.survey_jobs.c.fired_at.is_(None)
        )
    )
    await emit(
        session,
        ctx,
        SurveyCompleted(
            response_id=response_id,
            survey_id=row.survey_id,
            person_id=row.person_id,
            cycle_id=row.cycle_id,
            kind=SurveyKind(row.kind),
            completed_at=now,
        ),
        envelope,
    )
    return {"response_id": str(response_id), "completed_at": now.isoformat()}


ROUTES = [
    CommandRoute(GetSurveyTemplates, get_survey_templates),
    CommandRoute(CheckSurveyTemplate, check_survey_template),
    CommandRoute(SaveSurveyTemplate, save_survey_template),
    CommandRoute(GetSurvey, get_survey),
    CommandRoute(SubmitSurveyResponse, submit_survey_response),
]
