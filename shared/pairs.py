"""Keeping a local copy of matching's pairs: the same two handlers serve every service
that plans or follows up pairs (scheduling, feedback), each on its own `pairs` table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus import Subscription
from shared.envelope import Envelope
from shared.events import PairEnded, PairFormed


class PairNotKnownYet(Exception):
    """A retryable failure: the event refers to a pair whose `PairFormed` has not arrived."""


def pair_subscriptions(pairs: sa.Table) -> list[Subscription]:
    async def on_pair_formed(session: AsyncSession, event: PairFormed, envelope: Envelope) -> None:
        await session.execute(
            insert(pairs)
            .values(
                pair_id=event.pair_id,
                organisation_id=envelope.organisationid,
                cycle_id=event.cycle_id,
                mentee_id=event.mentee_id,
                mentor_id=event.mentor_id,
                formed_at=envelope.time,
            )
            .on_conflict_do_nothing()
        )

    async def on_pair_ended(session: AsyncSession, event: PairEnded, envelope: Envelope) -> None:
        """Each event type has its own consumer, so a `PairEnded` can overtake its
        `PairFormed`: for a pair not known yet this fails, and the consumer retries it with
        backoff (dead-lettered only if the pair never arrives)."""
        ended = await session.execute(
            pairs.update()
            .where(pairs.c.pair_id == event.pair_id)
            .values(ended_at=envelope.time, end_reason=event.reason_code)
        )
        if not ended.rowcount:  # type: ignore[attr-defined]
            raise PairNotKnownYet(f"pair {event.pair_id} ended before its PairFormed arrived")

    handlers: list[tuple[type[PairFormed] | type[PairEnded], Callable[..., Awaitable[None]]]] = [
        (PairFormed, on_pair_formed),
        (PairEnded, on_pair_ended),
    ]
    return [Subscription(event, handler) for event, handler in handlers]
