"""Keeping a local copy of matching's pairs: the same table definition, migration step and
two handlers serve every service that plans or follows up pairs (scheduling, feedback),
each in its own schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus import Subscription
from shared.envelope import Envelope
from shared.events import PairEnded, PairFormed


def add_pairs_table(metadata: sa.MetaData) -> sa.Table:
    """The `pairs` table, in the metadata's (the service's) schema."""
    return sa.Table(
        "pairs",
        metadata,
        sa.Column("pair_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organisation_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("cycle_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("mentee_id", UUID(as_uuid=True), nullable=False),
        sa.Column("mentor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.Text),
        comment="pairs formed by matching (PairFormed / PairEnded)",
    )


def create_pairs_table(schema: str) -> None:
    """Migration step: the `pairs` table as `add_pairs_table` defines it (its first shape;
    a later change ships as a new migration step, as for the messaging tables)."""
    from alembic import op

    metadata = sa.MetaData(schema=schema)
    add_pairs_table(metadata)
    metadata.create_all(op.get_bind())


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
