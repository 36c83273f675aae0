"""The outbox, its relay and the inbox against real PostgreSQL and NATS, in-process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import nats
import pytest
import sqlalchemy as sa

from services.intake import models
from services.intake.app import DEFINITION
from shared.bus import check_streams
from shared.clock import FrozenClock
from shared.db import make_engine, make_sessionmaker, migrate
from shared.inbox import Inbox
from shared.outbox import Outbox, OutboxRelay
from shared.settings import Settings
from tests.conftest import eventually
from tests.helpers import application_received


@pytest.fixture
async def parts(database_url, nats_server):
    settings = Settings(service="intake", DATABASE_URL=database_url, NATS_URL=nats_server.url)
    await migrate(DEFINITION.migrations_dir, database_url, "intake")
    engine = make_engine(settings)
    client = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = client.jetstream()
    await check_streams(js, settings)  # made by the provisioner when NATS started
    clock = FrozenClock(datetime(2027, 1, 15, 9, tzinfo=UTC))
    outbox = Outbox(service="intake", table=models.outbox)

    def relay(**kw):
        return OutboxRelay(
            outbox=outbox,
            sessionmaker=make_sessionmaker(engine),
            jetstream=js,
            database_url=database_url,
            clock=clock,
            **kw,
        )

    yield make_sessionmaker(engine), outbox, relay, js, clock
    await client.close()
    await engine.dispose()


async def stored(sessions, where=None) -> int:
    async with sessions() as session:
        return await session.scalar(
            sa.select(sa.func.count())
            .select_from(models.outbox)
            .where(where if where is not None else sa.true())
        )


async def test_outbox_row_exists_only_if_the_transaction_commits(parts) -> None:
    sessions, outbox, _, _, _ = parts
    async with sessions() as session:
        async with session.begin():
            await outbox.add(session, application_received(uuid4(), uuid4()))
            await session.rollback()
    assert await stored(sessions) == 0

    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await outbox.add(session, application_received(uuid4(), uuid4()))
            raise RuntimeError("the state change failed")
    assert await stored(sessions) == 0

    async with sessions() as session, session.begin():
        await outbox.add(session, application_received(uuid4(), uuid4()))
    assert await stored(sessions) == 1


async def test_relay_wakes_on_commit_not_on_its_poll(parts) -> None:
    sessions, outbox, make_relay, js, _ = parts
    relay = make_relay(poll_seconds=3600)  # only NOTIFY can wake it within the test
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay._listener is not None)
        await asyncio.sleep(0.5)  # let the first pass find the outbox empty and go to sleep
        envelope = application_received(uuid4(), uuid4())
        async with sessions() as session, session.begin():
            await outbox.add(session, envelope)

        await eventually(lambda: stored(sessions, models.outbox.c.published_at.is_not(None)), 10)
        msg = await js.get_last_msg("WOMENTO_INTAKE", envelope.nats_subject)
        assert msg.headers["Nats-Msg-Id"] == str(envelope.id)
        assert msg.data == envelope.to_bytes()
    finally:
        await relay.stop()
        await task


async def test_two_relays_publish_every_row_exactly_once_in_order(parts) -> None:
    sessions, outbox, make_relay, js, _ = parts
    envelopes = [application_received(uuid4(), uuid4()) for _ in range(300)]
    async with sessions() as session, session.begin():
        for envelope in envelopes:
            await outbox.add(session, envelope)
    relays = [make_relay(batch_size=25), make_relay(batch_size=25)]

    async def drain(relay) -> int:
        total = 0
        while n := await relay.publish_batch():
            total += n
        return total

    counts = await asyncio.gather(*(drain(r) for r in relays))

    assert sum(counts) == len(envelopes)
    info = await js.stream_info("WOMENTO_INTAKE")
    assert info.state.messages == len(envelopes)
    sub = await js.pull_subscribe("womento.intake.>", stream="WOMENTO_INTAKE")
    received = []
    while len(received) < len(envelopes):
        received += [m.headers["Nats-Msg-Id"] for m in await sub.fetch(100, timeout=5)]
    # each relay publishes its claimed batch in position order; batches may interleave
    assert sorted(received) == sorted(str(e.id) for e in envelopes)


async def test_publish_failure_keeps_the_row_and_counts_the_attempt(parts, nats_server) -> None:
    sessions, outbox, make_relay, _, _ = parts
    async with sessions() as session, session.begin():
        await outbox.add(session, application_received(uuid4(), uuid4()))
    client = await nats.connect(nats_server.url, **nats_server.connect_options())
    js = client.jetstream()
    await js.delete_stream("WOMENTO_INTAKE")  # nowhere to publish to
    relay = make_relay()
    relay.js = js
    relay.publish_timeout = 1

    with pytest.raises(ConnectionError):
        await relay.publish_batch()

    async with sessions() as session:
        row = (await session.execute(sa.select(models.outbox))).one()
    assert row.published_at is None and row.attempts == 1 and row.last_error
    await client.close()


async def test_purge_removes_only_rows_published_over_a_week_ago(parts) -> None:
    sessions, outbox, make_relay, _, clock = parts
    relay = make_relay()
    async with sessions() as session, session.begin():
        await outbox.add(session, application_received(uuid4(), uuid4()))
    assert await relay.publish_batch() == 1
    async with sessions() as session, session.begin():
        await outbox.add(session, application_received(uuid4(), uuid4()))  # stays unpublished

    clock.advance(timedelta(days=6))
    assert await relay.purge_published() == 0
    clock.advance(timedelta(days=2))
    assert await relay.purge_published() == 1
    assert await stored(sessions) == 1
    assert await stored(sessions, models.outbox.c.published_at.is_(None)) == 1


async def test_inbox_claims_once_and_forgets_a_rolled_back_claim(parts) -> None:
    sessions, _, _, _, clock = parts
    inbox = Inbox(table=models.inbox, clock=clock)
    envelope = application_received(uuid4(), uuid4())

    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            assert await inbox.claim(session, "intake__x", envelope)
            raise RuntimeError("effect failed")

    async with sessions() as session, session.begin():
        assert await inbox.claim(session, "intake__x", envelope) is True
    async with sessions() as session, session.begin():
        assert await inbox.claim(session, "intake__x", envelope) is False
        assert await inbox.claim(session, "intake__other", envelope) is True
