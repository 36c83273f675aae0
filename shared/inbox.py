"""The idempotent consumer's memory: which events a consumer has already applied.

`Inbox.claim` inserts (consumer, event id) in the caller's transaction, the same one that
applies the event's effect. A second delivery of the same id finds the row and applies
nothing; a delivery racing an uncommitted first one waits on the primary key and then
finds it. The message is acked only after that transaction commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock
from shared.envelope import Envelope


class Inbox:
    def __init__(self, *, table: sa.Table, clock: Clock) -> None:
        self.table = table
        self.clock = clock

    async def claim(self, session: AsyncSession, consumer: str, envelope: Envelope) -> bool:
        """Record the event as processed by `consumer`; False if it already was."""
        stmt = (
            insert(self.table)
            .values(
                consumer=consumer,
                event_id=envelope.id,
                event_type=envelope.type,
                correlation_id=envelope.correlationid,
                processed_at=self.clock.now(),
            )
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return (await session.execute(stmt)).first() is not None
