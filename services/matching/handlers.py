"""Event handlers of the matching service: event -> effect, inside the consumer's transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.models import applications
from shared.envelope import Envelope
from shared.events import ApplicationReceived


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
