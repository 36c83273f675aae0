"""Reminder e-mails before group meetings and trainings (`ReminderDue` from scheduling).

Scheduling decides when a reminder is due and to whom (its clock worker fires each due job
once); intake owns the addresses and the person's language, so it turns each `ReminderDue`
into one queued `event_reminder` e-mail, in the same transaction as the consumer's inbox
record. The mail's context holds the event's time and place (the coordinator's words, no
personal data); its de-duplication key holds `reminder_id`, so a second `ReminderDue` with
the same id (redelivered, or republished under another event id) queues nothing.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.mail import enqueue_mail
from shared.bus import PermanentError
from shared.clock import FrozenClock
from shared.envelope import Envelope
from shared.events import ReminderDue

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")
TEMPLATE = "event_reminder"


def reminder_context(event: ReminderDue, cycle_name: str) -> dict[str, Any]:
    """What the `event_reminder` templates show: Helsinki wall-clock day and times."""
    starts = event.starts_at.astimezone(HELSINKI)
    ends = event.ends_at.astimezone(HELSINKI)
    return {
        "cycle_name": cycle_name,
        "reminder_id": str(event.reminder_id),
        "event_id": str(event.event_id),
        "event_kind": event.event_kind,
        "meeting_kind": event.meeting_kind,
        "title": event.title,
        "day": starts.date().isoformat(),
        "starts": starts.strftime("%H:%M"),
        "ends": ends.strftime("%H:%M"),
        "place": event.place,
        "online_url": event.online_url,
    }


async def cycle_name_for(
    session: AsyncSession, organisation_id: UUID, person_id: UUID, cycle_id: UUID | None
) -> str | None:
    """The group meeting's cycle, or (a training) the cycle of her latest application."""
    cycles, apps = m.cycles, m.applications
    if cycle_id is not None:
        return await session.scalar(
            sa.select(cycles.c.name).where(
                cycles.c.id == cycle_id, cycles.c.organisation_id == organisation_id
            )
        )
    return await session.scalar(
        sa.select(cycles.c.name)
        .join(apps, apps.c.cycle_id == cycles.c.id)
        .where(apps.c.person_id == person_id, cycles.c.organisation_id == organisation_id)
        .order_by(apps.c.submitted_at.desc())
        .limit(1)
    )


async def on_reminder_due(session: AsyncSession, event: ReminderDue, envelope: Envelope) -> None:
    """Queue the reminder for the person, in her language, once per `reminder_id`."""
    org = envelope.organisationid
    known = await session.scalar(
        sa.select(m.people.c.id).where(
            m.people.c.id == event.person_id, m.people.c.organisation_id == org
        )
    )
    if known is None:
        raise PermanentError(f"ReminderDue for a person intake does not know: {event.person_id}")
    cycle_name = await cycle_name_for(session, org, event.person_id, event.cycle_id)
    # The mail is due when the reminder fired: the event's time, on scheduling's clock.
    clock = FrozenClock(envelope.time)
    await enqueue_mail(
        session,
        organisation_id=org,
        person_id=event.person_id,
        template=TEMPLATE,
        context=reminder_context(event, cycle_name or event.title or "Womento"),
        clock=clock,
        dedupe_key=f"{TEMPLATE}:{event.reminder_id}",
    )
