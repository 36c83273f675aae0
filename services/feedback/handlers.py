"""Event handlers of the feedback service: event -> effect, inside the consumer's transaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import applications
from shared.envelope import Envelope
from shared.events import ApplicationReceived


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
