"""The partner feed: each of the services' events that partners get becomes one copy per
partner of the event's organisation, staged in intake's outbox in the consumer's
transaction (so exactly once, whatever the redeliveries). What a copy holds is decided by
`domain.partner_event`; the relay publishes it into `WOMENTO_PARTNER`, and the gateway
(`partners.gateway`) copies that into the partners' account.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.partners import domain, store
from shared import events as ev
from shared.bus import Subscription
from shared.envelope import Envelope
from shared.outbox import Outbox
from shared.settings import Settings


@cache
def _settings() -> Settings:
    """intake's settings, for the pseudonym key: an event handler gets (session, event,
    envelope) only, not the runtime's settings."""
    return Settings(service="intake")


async def on_fed_event(session: AsyncSession, event: ev.Event, envelope: Envelope) -> None:
    partner_ids = await store.fed_partners(session, envelope.organisationid)
    if not partner_ids:
        return
    counts = (0, 0)
    if isinstance(event, ev.CycleClosed):
        counts = await store.application_counts(session, event.cycle_id)
    outbox = Outbox(service="intake", table=m.outbox)
    secret_key = _settings().secret_key
    for partner_id in partner_ids:
        pseudonym = domain.pseudonymiser(secret_key, partner_id)
        copy = domain.partner_envelope(event, envelope, partner_id, pseudonym, counts)
        if copy is not None:
            await outbox.add_partner_copy(session, copy)


SUBSCRIPTIONS = [Subscription(event, on_fed_event) for event in domain.FED_EVENTS]
