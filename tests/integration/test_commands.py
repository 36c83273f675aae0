"""Commands over NATS request/reply against a real server and PostgreSQL, in-process."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar
from uuid import uuid4

import nats
import pytest
import sqlalchemy as sa
from pydantic import Field

from services.matching import models
from services.matching.app import DEFINITION
from shared.bus import make_broker
from shared.clock import SystemClock
from shared.commands import (
    Command,
    CommandEnvelope,
    CommandRejected,
    CommandResponder,
    CommandRoute,
    ServiceUnavailable,
    send,
)
from shared.db import make_engine, make_sessionmaker, migrate
from shared.settings import Settings


class RecordNumber(Command):
    target: ClassVar[str] = "matching"
    value: int = Field(ge=0, le=100)


applied: list[int] = []


async def record(
    session: Any, command: RecordNumber, envelope: CommandEnvelope, context: Any
) -> dict[str, Any]:
    if command.value == 13:
        raise CommandRejected("unlucky", "13 is not accepted here", "value")
    await session.execute(
        models.inbox.insert().values(
            consumer="test-effect",
            event_id=uuid4(),
            event_type="effect",
            correlation_id=envelope.correlationid,
            processed_at=context.clock.now(),
        )
    )
    applied.append(command.value)
    return {"doubled": command.value * 2}


@pytest.fixture
async def responder(database_url, nats_server):
    applied.clear()
    settings = Settings(
        service="matching",
        DATABASE_URL=database_url,
        NATS_URL=nats_server.url,
        nats_credentials_dir=nats_server.credentials_dir,
    )
    await migrate(DEFINITION.migrations_dir, database_url, "matching")
    engine = make_engine(settings)
    broker = make_broker(settings)
    CommandResponder(
        service="matching",
        route=CommandRoute(RecordNumber, record),
        sessionmaker=lambda: make_sessionmaker(engine),
        inbox_table=models.inbox,
        context=SimpleNamespace(clock=SystemClock(), outbox=None),
    ).register(broker)
    await broker.start()
    client = await nats.connect(nats_server.url, **nats_server.connect_options())
    yield client, make_sessionmaker(engine)
    await client.close()
    await broker.stop()
    await engine.dispose()


async def effects(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            sa.select(sa.func.count())
            .select_from(models.inbox)
            .where(models.inbox.c.consumer == "test-effect")
        )


async def test_a_command_is_applied_once_per_id_and_answered_again(responder) -> None:
    client, sessions = responder
    org, command_id = uuid4(), uuid4()
    kwargs = {
        "organisation_id": org,
        "clock": SystemClock(),
        "wait_seconds": 5,
        "command_id": command_id,
    }

    first = await send(client, RecordNumber(value=21), **kwargs)
    again = await send(client, RecordNumber(value=21), **kwargs)

    assert first == again == {"doubled": 42}
    assert applied == [21]
    assert await effects(sessions) == 1


async def test_a_refusal_names_the_field_and_changes_nothing(responder) -> None:
    client, sessions = responder
    with pytest.raises(CommandRejected) as refused:
        await send(
            client,
            RecordNumber(value=13),
            organisation_id=uuid4(),
            clock=SystemClock(),
            wait_seconds=5,
        )
    assert (refused.value.code, refused.value.field) == ("unlucky", "value")
    assert await effects(sessions) == 0


async def test_invalid_command_data_is_refused_with_the_field(responder) -> None:
    client, _ = responder
    bad = CommandEnvelope(
        id=uuid4(),
        type="record_number",
        time=SystemClock().now(),
        organisationid=uuid4(),
        correlationid=uuid4(),
        data={"value": 1000},
    )
    msg = await client.request(RecordNumber.subject(), bad.model_dump_json().encode(), timeout=5)
    assert b'"ok":false' in msg.data and b'"field":"value"' in msg.data


async def test_no_service_answering_is_a_clear_error_not_a_hang(nats_server) -> None:
    client = await nats.connect(nats_server.url, **nats_server.connect_options())
    with pytest.raises(ServiceUnavailable, match="matching service is not answering"):
        await send(
            client,
            RecordNumber(value=1),
            organisation_id=uuid4(),
            clock=SystemClock(),
            wait_seconds=2,
        )
    await client.close()
