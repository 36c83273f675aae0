"""Scheduling's facts the reports need: meetings held and months missed, per pair.

Both handlers are idempotent on their own key (a redelivered or replayed event inserts
nothing), besides the consumer's inbox.
"""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import meetings, missed_months
from shared.bus import Subscription
from shared.envelope import Envelope
from shared.events import MeetingHeld, MeetingMissed


async def on_meeting_held(session: AsyncSession, event: MeetingHeld, envelope: Envelope) -> None:
    await session.execute(
        insert(meetings)
        .values(
            meeting_id=event.meeting_id,
            organisation_id=envelope.organisationid,
            pair_id=event.pair_id,
            cycle_id=event.cycle_id,
            held_on=event.held_on,
            minutes=event.minutes,
        )
        .on_conflict_do_nothing()
    )


async def on_meeting_missed(
    session: AsyncSession, event: MeetingMissed, envelope: Envelope
) -> None:
    await session.execute(
        insert(missed_months)
        .values(
            pair_id=event.pair_id,
            month=event.month.replace(day=1),
            organisation_id=envelope.organisationid,
            cycle_id=event.cycle_id,
        )
        .on_conflict_do_nothing()
    )


SUBSCRIPTIONS = [
    Subscription(MeetingHeld, on_meeting_held),
    Subscription(MeetingMissed, on_meeting_missed),
]
