"""The transactional outbox and its relay.

Invariants:
- `Outbox.add` writes through the caller's session and never commits: the event row
  commits or rolls back with the state change it describes.
- The relay claims unpublished rows in order with `FOR UPDATE SKIP LOCKED` (several
  copies of a service can run relays side by side), publishes each with
  `Nats-Msg-Id` = event id and waits for JetStream's ack before marking the row published.
  A crash between publish and marking re-publishes the same id later; JetStream's
  duplicate window and every consumer's inbox make that harmless.
- The relay wakes on `NOTIFY` sent in the writing transaction (delivered at commit), and
  polls every `outbox_poll_seconds` as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import sqlalchemy as sa
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock
from shared.db import asyncpg_dsn
from shared.envelope import Envelope
from shared.faults import crashpoint
from shared.observability import EVENTS_PUBLISHED, OUTBOX_OLDEST, OUTBOX_PENDING
from shared.partner_events import PartnerEnvelope
from shared.subjects import partner_subject, publishing_stream

log = logging.getLogger(__name__)

PUBLISHED_RETENTION = timedelta(days=7)
PURGE_EVERY = timedelta(hours=1)


def notify_channel(service: str) -> str:
    return f"womento_outbox_{service}"


class Outbox:
    def __init__(self, *, service: str, table: sa.Table) -> None:
        self.service = service
        self.table = table

    async def add(self, session: AsyncSession, envelope: Envelope) -> None:
        """Stage `envelope` for publishing when the caller's transaction commits."""
        if envelope.source != f"/womento/{self.service}":
            raise ValueError(f"{self.service} cannot publish {envelope.type} ({envelope.source})")
        await self._stage(
            session,
            envelope.id,
            envelope.nats_subject,
            envelope.type,
            envelope.to_bytes(),
            envelope.time,
        )

    async def add_partner_copy(self, session: AsyncSession, envelope: PartnerEnvelope) -> None:
        """Stage one partner's copy of an event (intake only: it keeps the partner feed)."""
        if self.service != "intake":
            raise ValueError(f"{self.service} cannot publish the partner feed")
        subject = partner_subject(
            str(envelope.organisationid), str(envelope.partnerid), envelope.open().event_name()
        )
        payload = envelope.model_dump_json().encode()
        await self._stage(session, envelope.id, subject, envelope.type, payload, envelope.time)

    async def _stage(
        self,
        session: AsyncSession,
        message_id: UUID,
        subject: str,
        event_type: str,
        payload: bytes,
        created_at: datetime,
    ) -> None:
        await session.execute(
            self.table.insert().values(
                id=message_id,
                subject=subject,
                event_type=event_type,
                payload=payload,
                created_at=created_at,
            )
        )
        await session.execute(sa.select(sa.func.pg_notify(notify_channel(self.service), "")))


class OutboxRelay:
    def __init__(
        self,
        *,
        outbox: Outbox,
        sessionmaker: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        database_url: str,
        clock: Clock,
        batch_size: int = 100,
        poll_seconds: float = 2.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.sessionmaker = sessionmaker
        self.js = jetstream
        self.dsn = asyncpg_dsn(database_url)
        self.clock = clock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; failures back off and retry, never drop a row."""
        backoff = 0.1
        next_purge = self.clock.now()
        while not self._stopping.is_set():
            try:
                await self._ensure_listener()
                if self.clock.now() >= next_purge:
                    await self.purge_published()
                    next_purge = self.clock.now() + PURGE_EVERY
                published = await self.publish_batch()
                backoff = 0.1
                if published == self.batch_size:
                    continue
                await self._sleep(self.poll_seconds)
            except Exception:
                log.warning("outbox relay pass failed; retrying", exc_info=True)
                await self._drop_listener()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        await self._drop_listener()

    async def publish_batch(self) -> int:
        """Claim, publish and mark one batch; returns how many rows were published."""
        t = self.outbox.table
        published = 0
        async with self.sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(t.c.id, t.c.subject, t.c.event_type, t.c.payload)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.position)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                try:
                    await self.js.publish(
                        row.subject,
                        row.payload,
                        timeout=self.publish_timeout,
                        stream=publishing_stream(self.outbox.service, row.subject),
                        headers={"Nats-Msg-Id": str(row.id)},
                    )
                except Exception as exc:
                    await session.execute(
                        t.update()
                        .where(t.c.id == row.id)
                        .values(attempts=t.c.attempts + 1, last_error=repr(exc)[:500])
                    )
                    log.warning("publish failed; will retry", extra={"event_id": str(row.id)})
                    break
                crashpoint("outbox.after_publish")
                await session.execute(
                    t.update().where(t.c.id == row.id).values(published_at=self.clock.now())
                )
                EVENTS_PUBLISHED.labels(self.outbox.service, row.event_type).inc()
                published += 1
        await self._record_backlog()
        if rows and not published:
            raise ConnectionError("could not publish the oldest outbox row")
        return published

    async def purge_published(self) -> int:
        t = self.outbox.table
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                t.delete().where(t.c.published_at < self.clock.now() - PUBLISHED_RETENTION)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _record_backlog(self) -> None:
        t = self.outbox.table
        async with self.sessionmaker() as session:
            count, oldest = (
                await session.execute(
                    sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(
                        t.c.published_at.is_(None)
                    )
                )
            ).one()
        OUTBOX_PENDING.labels(self.outbox.service).set(count)
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST.labels(self.outbox.service).set(max(age, 0.0))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        listener = await asyncpg.connect(self.dsn)
        await listener.add_listener(
            notify_channel(self.outbox.service), lambda *_: self._wake.set()
        )
        self._listener = listener

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None
