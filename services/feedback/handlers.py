"""Event handlers of the feedback service: event -> effect, inside the consumer's transaction.

Handlers get no clock: "now" is the event's own time (`envelope.time`).
"""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import interviews, models, survey_service
from services.feedback.models import applications
from shared.envelope import Envelope
from shared.erasure import Erasure
from shared.events import ApplicantAccepted, ApplicationReceived, ApplicationWithdrawn, CycleOpened


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
    await erasure.delete(models.person_keys, "person_id")
    await erasure.delete(models.interviews, "person_id")
    for table in (models.applications, models.survey_withdrawals):
        await session.execute(
            table.update()
            .where(table.c.person_id == her)
            .values(person_id=erasure.pseudonym, application_id=sa.func.gen_random_uuid())
        )
    for table in (models.participants, invitations, responses, models.outcomes):
        await erasure.anonymise(table, "person_id")
    await erasure.anonymise(models.pairs, "mentee_id", "mentor_id")
