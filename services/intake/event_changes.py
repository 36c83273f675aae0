"""E-mails when a group meeting or training is moved or cancelled (`ScheduledEventChanged`).

Scheduling decides who is told (everyone invited who has not declined and is in a current
pair) and counts the event's changes (`sequence`); intake owns the addresses and the
person's language, so it turns each `ScheduledEventChanged` into one queued `event_changed`
e-mail in the same transaction as the consumer's inbox record. The de-duplication key is
(event, person, sequence): a redelivered or republished event mails once, while a second
change of the same event (a higher sequence) mails again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.mail import enqueue_mail
from services.intake.reminders import HELSINKI, cycle_name_for
from shared.bus import PermanentError
from shared.clock import FrozenClock
from shared.envelope import Envelope
from shared.events import ScheduledEventChanged

TEMPLATE = "event_changed"


def change_context(event: ScheduledEventChanged, cycle_name: str) -> dict[str, Any]:
    """What the `event_changed` templates show: Helsinki wall-clock days and times."""
    starts = event.starts_at.astimezone(HELSINKI)
    ends = event.ends_at.astimezone(HELSINKI)
    previous = (
        event.previous_starts_at.astimezone(HELSINKI)
        if event.previous_starts_at is not None
        else None
    )
    return {
        "cycle_name": cycle_name,
        "event_id": str(event.event_id),
        "event_kind": event.event_kind,
        "change": event.change,
        "sequence": event.sequence,
        "meeting_kind": event.meeting_kind,
        "title": event.title,
        "day": starts.date().isoformat(),
        "starts": starts.strftime("%H:%M"),
        "ends": ends.strftime("%H:%M"),
        "previous_day": previous.date().isoformat() if previous else None,
        "previous_starts": previous.strftime("%H:%M") if previous else None,
        "place": event.place,
        "online_url": event.online_url,
        "reason": event.reason,
    }


def dedupe_key(event: ScheduledEventChanged) -> str:
    return f"{TEMPLATE}:{event.event_id}:{event.person_id}:{event.sequence}"


async def on_scheduled_event_changed(
    session: AsyncSession, event: ScheduledEventChanged, envelope: Envelope
) -> None:
    """Queue the change's e-mail for the person, in her language, once per change."""
    org = envelope.organisationid
    known = await session.scalar(
        sa.select(m.people.c.id).where(
            m.people.c.id == event.person_id, m.people.c.organisation_id == org
        )
    )
    if known is None:
        raise PermanentError(
            f"ScheduledEventChanged for a person intake does not know: {event.person_id}"
        )
    cycle_name = await cycle_name_for(session, org, event.person_id, event.cycle_id)
    await enqueue_mail(
        session,
        organisation_id=org,
        person_id=event.person_id,
        template=TEMPLATE,
        context=change_context(event, cycle_name or event.title or "Womento"),
        clock=FrozenClock(envelope.time),
        dedupe_key=dedupe_key(event),
    )
