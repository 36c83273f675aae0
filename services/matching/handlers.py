"""Event handlers of the matching service: event -> effect, inside the consumer's transaction."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching import models
from services.matching.models import applications, cycles, mentor_pool, profiles
from shared.envelope import Envelope
from shared.erasure import Erasure
from shared.events import (
    ApplicantAccepted,
    ApplicationReceived,
    ApplicationWithdrawn,
    CycleOpened,
    Role,
)
from shared.personal_data import ERASE_ANONYMISE, ERASE_DELETE, Holding, Purpose, apply_erasure


async def on_application_received(
    session: AsyncSession, event: ApplicationReceived, envelope: Envelope
) -> None:
    """Record the application: the applicant pool; profiles follow with ApplicantAccepted."""
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
    """Remember the cycle, so that commands for unknown cycles can be refused."""
    await session.execute(
        insert(cycles)
        .values(
            cycle_id=event.cycle_id,
            organisation_id=envelope.organisationid,
            programme_id=event.programme_id,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
        )
        .on_conflict_do_nothing()
    )


async def on_applicant_accepted(
    session: AsyncSession, event: ApplicantAccepted, envelope: Envelope
) -> None:
    """An accepted applicant's profile joins the cycle; a mentor also joins the pool."""
    profile = event.profile.model_dump(mode="json")
    await session.execute(
        insert(profiles)
        .values(
            person_id=event.person_id,
            cycle_id=event.cycle_id,
            organisation_id=envelope.organisationid,
            application_id=event.application_id,
            role=event.profile.role.value,
            profile=profile,
            accepted_at=envelope.time,
        )
        .on_conflict_do_update(
            index_elements=[profiles.c.person_id, profiles.c.cycle_id],
            set_={"profile": profile, "withdrawn_at": None, "accepted_at": envelope.time},
        )
    )
    if event.profile.role is Role.MENTOR:
        await session.execute(
            insert(mentor_pool)
            .values(
                person_id=event.person_id,
                organisation_id=envelope.organisationid,
                capacity=event.profile.capacity,
                latest_profile=profile,
            )
            .on_conflict_do_update(
                index_elements=[mentor_pool.c.person_id],
                set_={"latest_profile": profile, "capacity": event.profile.capacity},
            )
        )


async def on_application_withdrawn(
    session: AsyncSession, event: ApplicationWithdrawn, envelope: Envelope
) -> None:
    """A withdrawn applicant is no longer matched in that cycle."""
    await session.execute(
        profiles.update()
        .where(profiles.c.application_id == event.application_id)
        .values(withdrawn_at=envelope.time)
    )


HOLDINGS = (
    Holding(models.applications, ("person_id",), Purpose.MATCHING, ERASE_DELETE),
    Holding(models.profiles, ("person_id",), Purpose.MATCHING, ERASE_DELETE),
    Holding(models.mentor_pool, ("person_id",), Purpose.MATCHING, ERASE_DELETE),
    Holding(models.constraints, ("mentee_id", "mentor_id"), Purpose.MATCHING, ERASE_DELETE),
    Holding(models.pairs, ("mentee_id", "mentor_id"), Purpose.PROGRAMME, ERASE_ANONYMISE),
)
"""What matching holds on a person (shared/personal_data.py); the runs' proposals name
her too, inside their JSON: erasure puts the pseudonym there, her export leaves them out
(they are scores of other people's pairs as well)."""


async def erase_person(erasure: Erasure) -> None:
    """`PersonErased`: her applications, profiles, pool entry and pair rules go; her pairs
    stay (the other person's too, and the cycle's counts) under the pseudonym, and so do
    the runs' proposals that named her."""
    await apply_erasure(erasure.session, HOLDINGS, erasure.person_id, erasure.pseudonym)
    await erasure.scrub_json(models.runs, "result")
