"""Event handlers of the feedback service: event -> effect, inside the consumer's transaction.

Handlers get no clock: "now" is the event's own time (`envelope.time`).
"""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import interviews, models, survey_service
from services.feedback.models import applications
from shared.envelope import Envelope
from shared.erasure import Erasure
from shared.events import ApplicantAccepted, ApplicationReceived, ApplicationWithdrawn, CycleOpened
from shared.personal_data import (
    ERASE_ANONYMISE,
    ERASE_DELETE,
    ERASE_SHRED,
    Holding,
    Purpose,
    apply_erasure,
    jsonable,
)


async def on_application_received(
    session: AsyncSession, event: ApplicationReceived, envelope: Envelope
) -> None:
    """Record the application: applicants per cycle, the denominator of the funder's report."""
    await session.execute(
        applications.insert().values(
            application_id=event.application_id,
            person_id=event.person_id,
            organisation_id=envelope.organisationid,
            cycle_id=event.cycle_id,
            role=event.role.value,
            submitted_at=event.submitted_at,
        )
    )


async def on_cycle_opened(session: AsyncSession, event: CycleOpened, envelope: Envelope) -> None:
    """Keep the cycle, create its surveys from the programme's templates in force, and invite
    the participants that arrived before it; plan their interviews."""
    await survey_service.remember_cycle(
        session,
        cycle_id=event.cycle_id,
        organisation_id=envelope.organisationid,
        programme_id=event.programme_id,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        now=envelope.time,
    )
    await interviews.ensure_planned(session, envelope.organisationid, event.cycle_id, envelope.time)


async def on_applicant_accepted(
    session: AsyncSession, event: ApplicantAccepted, envelope: Envelope
) -> None:
    """A participant of the cycle: her invitations to her role's surveys are planned, and a
    mentee's three interviews (once the cycle's dates are known)."""
    await survey_service.add_participant(
        session,
        application_id=event.application_id,
        person_id=event.person_id,
        cycle_id=event.cycle_id,
        organisation_id=envelope.organisationid,
        role=event.profile.role.value,
        now=envelope.time,
    )
    await interviews.ensure_planned(session, envelope.organisationid, event.cycle_id, envelope.time)


async def on_application_withdrawn(
    session: AsyncSession, event: ApplicationWithdrawn, envelope: Envelope
) -> None:
    """She left: her unanswered invitations are cancelled (no more mail, no answers taken)."""
    await survey_service.withdraw(
        session,
        application_id=event.application_id,
        person_id=event.person_id,
        cycle_id=event.cycle_id,
        organisation_id=envelope.organisationid,
        now=envelope.time,
    )


HOLDINGS = (
    Holding(models.person_keys, ("person_id",), Purpose.FOLLOW_UP, ERASE_SHRED, exported=False),
    Holding(models.interviews, ("person_id",), Purpose.FOLLOW_UP, ERASE_DELETE),
    Holding(models.applications, ("person_id",), Purpose.REPORTING, ERASE_ANONYMISE),
    Holding(models.survey_withdrawals, ("person_id",), Purpose.REPORTING, ERASE_ANONYMISE),
    Holding(models.participants, ("person_id",), Purpose.REPORTING, ERASE_ANONYMISE),
    Holding(models.invitations, ("person_id",), Purpose.FOLLOW_UP, ERASE_ANONYMISE),
    Holding(models.responses, ("person_id",), Purpose.FOLLOW_UP, ERASE_ANONYMISE),
    Holding(models.outcomes, ("person_id",), Purpose.REPORTING, ERASE_ANONYMISE),
    Holding(models.pairs, ("mentee_id", "mentor_id"), Purpose.REPORTING, ERASE_ANONYMISE),
)
"""What feedback holds on a person (shared/personal_data.py). Her free-text answers
(`response_texts`) and jobs of her invitations are reached through her responses and
invitations; her application ids are replaced by new random ones on erasure."""


async def erase_person(erasure: Erasure) -> None:
    """`PersonErased`: her key goes (so every text encrypted under it is unreadable), and
    with it the texts, her interviews and the survey jobs not yet done; what the funder's
    report counts (applications, participation, invitations, closed answers, outcomes,
    pairs) stays under the pseudonym, her application ids replaced by new random ones."""
    session, her = erasure.session, erasure.person_id
    responses, invitations = models.responses, models.invitations
    her_responses = sa.select(responses.c.response_id).where(responses.c.person_id == her)
    her_invitations = sa.select(invitations.c.invitation_id).where(invitations.c.person_id == her)
    await session.execute(
        models.response_texts.delete().where(models.response_texts.c.response_id.in_(her_responses))
    )
    await session.execute(
        models.survey_jobs.delete().where(models.survey_jobs.c.invitation_id.in_(her_invitations))
    )
    for table in (models.applications, models.survey_withdrawals):
        await session.execute(
            table.update()
            .where(table.c.person_id == her)
            .values(application_id=sa.func.gen_random_uuid())
        )
    await apply_erasure(session, HOLDINGS, her, erasure.pseudonym)


async def export_extra(
    session: AsyncSession, person_id: UUID, organisation_id: UUID, ctx: Any
) -> dict[str, Any]:
    """Her texts in clear (free-text answers, interview notes) and her pairs' meetings."""
    vault = interviews.vault_of(ctx)
    key = await session.scalar(
        sa.select(models.person_keys.c.wrapped_key).where(
            models.person_keys.c.person_id == person_id
        )
    )
    texts = models.response_texts
    responses = models.responses
    rows = (
        await session.execute(
            sa.select(texts.c.response_id, texts.c.question_key, texts.c.ciphertext)
            .join(responses, responses.c.response_id == texts.c.response_id)
            .where(responses.c.person_id == person_id)
        )
    ).all()
    answers = [
        {
            "response_id": str(row.response_id),
            "question_key": row.question_key,
            "text": vault.decrypt(bytes(key), person_id, bytes(row.ciphertext)).get("text"),
        }
        for row in rows
        if key is not None
    ]
    found = (
        await session.execute(
            sa.select(models.interviews).where(models.interviews.c.person_id == person_id)
        )
    ).all()
    notes = await interviews.decrypted_notes(session, vault, list(found))
    pairs = models.pairs
    hers = sa.select(pairs.c.pair_id).where(
        sa.or_(pairs.c.mentee_id == person_id, pairs.c.mentor_id == person_id)
    )
    meetings = (
        await session.execute(sa.select(models.meetings).where(models.meetings.c.pair_id.in_(hers)))
    ).mappings()
    outcomes = models.outcomes
    reasons = [
        {
            "cycle_id": str(row.cycle_id),
            "reason": vault.decrypt(bytes(key), person_id, bytes(row.override_reason_ciphertext)),
        }
        for row in (
            await session.execute(
                sa.select(outcomes.c.cycle_id, outcomes.c.override_reason_ciphertext).where(
                    outcomes.c.person_id == person_id,
                    outcomes.c.override_reason_ciphertext.is_not(None),
                )
            )
        ).all()
        if key is not None
    ]
    return {
        "outcome_override_reasons": reasons,
        "free_text_answers": answers,
        "interview_notes": [
            {"interview_id": str(i), "notes": text} for i, text in notes.items() if text
        ],
        "meetings": [{k: jsonable(v) for k, v in row.items()} for row in meetings],
    }
