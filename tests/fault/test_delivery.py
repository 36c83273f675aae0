"""Nothing lost, nothing twice: redelivery, crashes and restarts on real NATS and PostgreSQL.

Crashes are real SIGKILLs of the service process, at the exact place named by a crash
point (`shared.faults`), or from outside; NATS restarts are real process restarts.
"""

from __future__ import annotations

import asyncio
import json
import signal
from uuid import UUID, uuid4

import httpx
import pytest

from tests.conftest import eventually
from tests.helpers import (
    CONSUMERS,
    application_payload,
    application_received,
    consumers_drained,
    count,
    effects,
    open_cycle,
    submit,
)

SUBJECT = "womento.intake.application_received"


def crashing_at(point: str) -> dict[str, str]:
    return {"WOMENTO_CRASHPOINTS": json.dumps([point])}


def consumed(base_url: str, outcome: str) -> float:
    """The service's own count of deliveries with this outcome, from /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("womento_events_consumed_total{") and f'outcome="{outcome}"' in line
    )


async def test_same_event_published_twice_has_one_effect(stack, db, nc) -> None:
    stack.start(*CONSUMERS)
    js = nc.jetstream()
    envelope = application_received(uuid4(), uuid4())

    first = await js.publish(
        SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
    )
    again = await js.publish(
        SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)}
    )
    # Without the header JetStream cannot de-duplicate: the inbox has to.
    bypass = await js.publish(SUBJECT, envelope.to_bytes())

    assert again.duplicate and again.seq == first.seq
    assert bypass.seq == first.seq + 1
    await eventually(lambda: consumers_drained(js))
    assert await effects(db, envelope.data["application_id"]) == dict.fromkeys(CONSUMERS, 1)
    assert await count(db, "matching.inbox") == 1
    for name in CONSUMERS:
        assert consumed(stack[name].base_url, "processed") == 1
        assert consumed(stack[name].base_url, "duplicate") == 1


@pytest.mark.parametrize(
    ("point", "effect_before_restart"),
    [
        ("inbox.after_commit", 1),
        ("inbox.before_commit", 0),
    ],
)
async def test_consumer_killed_mid_delivery_has_one_effect_after_restart(
    stack, db, nc, point, effect_before_restart
) -> None:
    stack.start("matching", **crashing_at(point))
    js = nc.jetstream()
    envelope = application_received(uuid4(), uuid4())
    application_id = envelope.data["application_id"]

    await js.publish(SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)})

    assert stack["matching"].proc.wait(30) == -signal.SIGKILL
    assert (await effects(db, application_id, ("matching",)))["matching"] == effect_before_restart
    stack.start("matching", WOMENTO_CRASHPOINTS="[]")
    await eventually(lambda: consumers_drained(js))
    assert (await effects(db, application_id, ("matching",)))["matching"] == 1
    expected_duplicates = 1 if effect_before_restart else 0
    assert consumed(stack["matching"].base_url, "duplicate") == expected_duplicates
    assert consumed(stack["matching"].base_url, "processed") == 1 - expected_duplicates


async def test_relay_killed_between_publish_and_marking_sent_causes_no_duplicate(
    stack, db, nc
) -> None:
    stack.start()
    _, cycle_id = await open_cycle(stack.database_url)
    await eventually(lambda: _all_published(db))
    stack["intake"].stop()
    stack.start("intake", **crashing_at("outbox.after_publish"))

    response = await submit(stack["intake"].base_url, application_payload(cycle_id))
    assert response.status_code == 201
    application_id = response.json()["application_id"]

    assert stack["intake"].proc.wait(30) == -signal.SIGKILL
    # ApplicationReceived was published, but neither it nor ApplicationScreened is marked
    assert await count(db, "intake.outbox", "published_at IS NULL") == 2
    stack.start("intake", WOMENTO_CRASHPOINTS="[]")
    await eventually(lambda: _all_published(db))
    js = nc.jetstream()
    await eventually(lambda: consumers_drained(js))
    assert await effects(db, application_id) == dict.fromkeys(CONSUMERS, 1)
    stream = await js.stream_info("WOMENTO_INTAKE")
    # CycleOpened, ApplicationReceived, ApplicationScreened: the re-publish was dropped
    assert stream.state.messages == 3


async def _all_published(db) -> bool:
    return await count(db, "intake.outbox", "published_at IS NULL") == 0


@pytest.mark.kills
async def test_nats_restarted_mid_stream_loses_nothing_and_consumers_resume(
    stack, db, nats_server
) -> None:
    stack.start()
    _, cycle_id = await open_cycle(stack.database_url)
    accepted: list[str] = []

    async def keep_submitting(n: int) -> None:
        for _ in range(n):
            response = await submit(stack["intake"].base_url, application_payload(cycle_id))
            assert response.status_code == 201, response.text
            accepted.append(response.json()["application_id"])
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(keep_submitting(60))
    await eventually(lambda: len(accepted) >= 15)
    await asyncio.to_thread(nats_server.restart, hard=False)  # SIGTERM
    await eventually(lambda: len(accepted) >= 35)
    await asyncio.to_thread(nats_server.restart, hard=True)  # SIGKILL
    await producer

    async def all_recorded() -> bool:
        counts = [await count(db, f"{svc}.applications") for svc in CONSUMERS]
        return counts == [len(accepted)] * len(CONSUMERS)

    await eventually(all_recorded, timeout=90)
    for svc in CONSUMERS:
        duplicates = await db.fetchval(
            f"SELECT count(*) - count(DISTINCT application_id) FROM {svc}.applications"
        )
        assert duplicates == 0
    assert await _all_published(db)


async def test_malformed_payload_is_dead_lettered_and_next_event_processed(stack, db, nc) -> None:
    stack.start(*CONSUMERS)
    js = nc.jetstream()
    await js.publish(SUBJECT, b'{"this is": "not an event"', headers={"Nats-Msg-Id": "bad-1"})
    good = application_received(uuid4(), uuid4())
    await js.publish(SUBJECT, good.to_bytes(), headers={"Nats-Msg-Id": str(good.id)})

    await eventually(lambda: consumers_drained(js))
    assert await effects(db, good.data["application_id"]) == dict.fromkeys(CONSUMERS, 1)
    dlq = await js.stream_info("WOMENTO_DLQ")
    assert dlq.state.messages == len(CONSUMERS)
    letter = await js.get_last_msg(
        "WOMENTO_DLQ", "womento.dlq.matching.matching__application_received"
    )
    assert letter.data == b'{"this is": "not an event"'
    assert letter.headers["Womento-Reason"].startswith("malformed event")
    assert letter.headers["Womento-Original-Subject"] == SUBJECT
    metrics = httpx.get(f"{stack['matching'].base_url}/metrics", timeout=5).text
    assert 'womento_dead_letters_total{service="matching"} 1.0' in metrics


async def test_failing_handler_is_retried_then_dead_lettered(stack, db, nc) -> None:
    """A handler that keeps failing (here: a conflicting row) is retried with backoff a
    bounded number of times, then dead-lettered; the consumer goes on with the next event."""
    stack.start("matching")
    js = nc.jetstream()
    poison = application_received(uuid4(), uuid4())
    await db.execute(
        "INSERT INTO matching.applications VALUES ($1, $2, $3, $4, 'mentee', now())",
        UUID(poison.data["application_id"]),
        uuid4(),
        uuid4(),
        uuid4(),
    )
    good = application_received(uuid4(), uuid4())
    await js.publish(SUBJECT, poison.to_bytes(), headers={"Nats-Msg-Id": str(poison.id)})
    await js.publish(SUBJECT, good.to_bytes(), headers={"Nats-Msg-Id": str(good.id)})

    await eventually(
        lambda: count(
            db, "matching.applications", "application_id = $1", UUID(good.data["application_id"])
        )
    )
    await eventually(lambda: consumers_drained(js), timeout=30)
    letter = await js.get_last_msg(
        "WOMENTO_DLQ", "womento.dlq.matching.matching__application_received"
    )
    assert letter.headers["Womento-Reason"].startswith("retries exhausted")
    assert letter.headers["Womento-Deliveries"] == "4"  # WOMENTO_MAX_DELIVER in the tests
    assert consumed(stack["matching"].base_url, "retried") == 3
    assert await count(db, "matching.inbox", "event_id = $1", poison.id) == 0


async def test_sigterm_finishes_in_flight_work_and_loses_nothing(stack, db, nc) -> None:
    stack.start("matching")
    js = nc.jetstream()
    envelopes = [application_received(uuid4(), uuid4()) for _ in range(200)]
    for envelope in envelopes:
        await js.publish(SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": str(envelope.id)})
    await eventually(lambda: count(db, "matching.applications"), interval=0.01)

    # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is the clean exit code
    assert stack["matching"].stop(30) == -signal.SIGTERM
    assert '"message": "service stopped"' in stack.log("matching")
    done = await count(db, "matching.applications")
    stack.start("matching")
    await eventually(lambda: consumers_drained(js))
    assert await count(db, "matching.applications") == len(envelopes)
    assert await db.fetchval(
        "SELECT count(DISTINCT application_id) FROM matching.applications"
    ) == len(envelopes)
    assert done < len(envelopes), "the SIGTERM came too late to test anything"
