"""Erasing a person everywhere she is known (docs/privacy.md, "Erasure").

Intake erases what it holds in the request's transaction and publishes `PersonErased`
(an erasure id and her person id). Each other service applies it once, like any event
(inbox), through `erasure_subscription`: its own `erase` step deletes or anonymises her
rows, the shared part here scrubs her id out of its outbox and its inbox's stored command
outcomes, remembers her as erased and stages its `ErasureCompleted`, all in the consumer's
transaction. Intake collects the completions and, once all are in, deletes every message
that names her from the streams (`services.intake.erasure.scrub`).

`ErasedPeople` is what a service remembers of an erased person: a keyed digest of her id
(HMAC-SHA-256 under a key derived from `WOMENTO_SECRET_KEY`), nothing else. The consumer
consults it before each handler, so an event about her that arrives late (each event type
has its own durable consumer, so an older `ApplicationReceived` can come after
`PersonErased`) is recorded as applied and does nothing: she is not brought back.

Anonymising replaces her id with a pseudonym drawn at random for this erasure in this
service: rows that reports count (outcomes, answers, attendance, a pair's meetings) keep
counting, as one anonymous person, and nothing leads from them back to her id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus import Subscription
from shared.clock import FrozenClock
from shared.envelope import Envelope
from shared.events import COMPLETIONS, Event, PersonErased
from shared.outbox import Outbox

log = logging.getLogger(__name__)

PERSON_FIELDS = ("person_id", "mentee_id", "mentor_id")
"""The fields by which an event names a person."""


def add_erased_table(metadata: sa.MetaData) -> sa.Table:
    """`erased_people`: the keyed digests of the people erased, in the service's schema."""
    return sa.Table(
        "erased_people",
        metadata,
        sa.Column("digest", sa.LargeBinary, primary_key=True, comment="HMAC of the person id"),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        comment="people erased: late events about them are skipped (shared/erasure.py)",
    )


def create_erased_table(schema: str) -> None:
    """Migration step: `erased_people` as `add_erased_table` defines it."""
    from alembic import op

    metadata = sa.MetaData(schema=schema)
    add_erased_table(metadata)
    metadata.create_all(op.get_bind())


@lru_cache(maxsize=4)
def _digest_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"womento-erased-people-v1\x00" + secret_key.encode()).digest()


def person_digest(secret_key: str, person_id: UUID) -> bytes:
    return hmac.new(_digest_key(secret_key), person_id.bytes, hashlib.sha256).digest()


def payload_names(outbox: sa.Table, subject: UUID) -> sa.ColumnElement[bool]:
    """An outbox row's payload (the envelope's bytes) contains `subject`'s id."""
    needle = sa.literal(str(subject).encode(), sa.LargeBinary)
    return sa.func.position(needle.op("IN")(outbox.c.payload)) > 0


def people_in(event: Event) -> list[UUID]:
    """The people an event names."""
    return [
        value for name in PERSON_FIELDS if isinstance(value := getattr(event, name, None), UUID)
    ]


@dataclass(frozen=True)
class ErasedPeople:
    table: sa.Table
    secret_key: str

    async def remember(self, session: AsyncSession, person_id: UUID, at: datetime) -> None:
        digest = person_digest(self.secret_key, person_id)
        await session.execute(
            insert(self.table).values(digest=digest, erased_at=at).on_conflict_do_nothing()
        )

    async def skips(self, session: AsyncSession, event: Event, envelope: Envelope) -> bool:
        """The consumer's guard before a handler: `PersonErased` is remembered (then
        handled); any other event naming an erased person is skipped (True)."""
        if isinstance(event, PersonErased):
            await self.remember(session, event.person_id, envelope.time)
            return False
        if await self.any_erased(session, people_in(event)):
            log.info(
                "event about an erased person skipped",
                extra={"event_id": str(envelope.id), "type": envelope.type},
            )
            return True
        return False

    async def any_erased(self, session: AsyncSession, people: Iterable[UUID]) -> bool:
        digests = [person_digest(self.secret_key, person) for person in people]
        if not digests:
            return False
        found = await session.scalar(
            sa.select(sa.func.count()).where(self.table.c.digest.in_(digests))
        )
        return bool(found)


@dataclass(frozen=True)
class Erasure:
    """One person's erasure in one service's transaction: her id and the pseudonym that
    replaces it where a row must stay (counted in reports, or another person's too). The
    declared rows go through `shared.personal_data.apply_erasure`; these scrub her id out
    of JSON and of the messaging tables."""

    session: AsyncSession
    person_id: UUID
    pseudonym: UUID

    async def scrub_json(self, table: sa.Table, column: str) -> int:
        """Put the pseudonym wherever her id appears in a JSON (JSONB) column."""
        col = table.c[column]
        text = sa.cast(col, sa.Text)
        result = await self.session.execute(
            table.update()
            .where(text.contains(str(self.person_id)))
            .values(
                {
                    column: sa.cast(
                        sa.func.replace(text, str(self.person_id), str(self.pseudonym)),
                        col.type,
                    )
                }
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def scrub_messaging(self, outbox: sa.Table, inbox: sa.Table) -> None:
        """Her id out of the outbox and of the inbox's stored command outcomes: published
        rows that name her are deleted (the relay keeps them a while only), unpublished
        ones name the pseudonym instead, so what others need of them still goes out."""
        names_her = payload_names(outbox, self.person_id)
        await self.session.execute(
            outbox.delete().where(outbox.c.published_at.is_not(None), names_her)
        )
        payload_text = sa.func.convert_from(outbox.c.payload, "UTF8")
        await self.session.execute(
            outbox.update()
            .where(outbox.c.published_at.is_(None), names_her)
            .values(
                payload=sa.func.convert_to(
                    sa.func.replace(payload_text, str(self.person_id), str(self.pseudonym)),
                    "UTF8",
                )
            )
        )
        await self.scrub_json(inbox, "outcome")


EraseStep = Callable[[Erasure], Awaitable[None]]


def erasure_subscription(
    service: str, *, outbox_table: sa.Table, inbox_table: sa.Table, erase: EraseStep
) -> Subscription:
    """The `PersonErased` subscription of a service other than intake: its `erase` step,
    the shared scrubbing, and its `ErasureCompleted`, in one transaction (the consumer has
    already remembered her as erased, `shared.bus.EventConsumer`)."""
    completed = COMPLETIONS[service]
    outbox = Outbox(service=service, table=outbox_table)

    async def on_person_erased(
        session: AsyncSession, event: PersonErased, envelope: Envelope
    ) -> None:
        erasure = Erasure(session, event.person_id, pseudonym=uuid4())
        await erase(erasure)
        await erasure.scrub_messaging(outbox_table, inbox_table)
        done = completed(erasure_id=event.erasure_id)
        await outbox.add(
            session,
            Envelope.wrap(
                done,
                organisation_id=envelope.organisationid,
                clock=FrozenClock(envelope.time),
                caused_by=envelope,
            ),
        )
        log.info("person erased", extra={"erasure_id": str(event.erasure_id)})

    return Subscription(PersonErased, on_person_erased)
