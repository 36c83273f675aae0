"""Outbox, inbox, retry backoff, consumer decisions and crash points, with in-memory stubs.

No database and no NATS: statements are compiled for PostgreSQL and their parameters
inspected; the consumer gets stub messages, sessions and JetStream.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import Insert

from shared import faults
from shared.bus import (
    MAX_RETRY_DELAY,
    EventConsumer,
    PermanentError,
    Subscription,
    forgery,
    retry_delay,
)
from shared.clock import FrozenClock
from shared.db import add_messaging_tables
from shared.envelope import Envelope
from shared.events import ApplicationReceived, CycleClosed, PairFormed, Role
from shared.inbox import Inbox
from shared.outbox import Outbox, notify_channel
from shared.settings import Settings
from shared.subjects import DLQ_STREAM, dead_letter_subject

START = datetime(2025, 4, 1, 8, 0, tzinfo=UTC)
ORG = UUID("00000000-0000-4000-8000-0000000000aa")


def compiled(stmt: Any) -> Any:
    return stmt.compile(dialect=postgresql.dialect())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def tables() -> tuple[sa.Table, sa.Table]:
    return add_messaging_tables(sa.MetaData(schema="intake"))


def received() -> ApplicationReceived:
    return ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=Role.MENTOR,
        submitted_at=START,
    )


def formed() -> PairFormed:
    return PairFormed(
        pair_id=uuid4(), cycle_id=uuid4(), mentee_id=uuid4(), mentor_id=uuid4(), score=0.5
    )


# --- retry_delay ----------------------------------------------------------------------


def test_retry_delay_first_delivery_is_the_base() -> None:
    assert retry_delay(1, 1.0) == 1.0
    assert retry_delay(1, 0.2) == pytest.approx(0.2)


def test_retry_delay_doubles_each_delivery() -> None:
    delays = [retry_delay(n, 1.0) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert all(isinstance(d, float) for d in delays)


def test_retry_delay_is_capped_at_a_minute() -> None:
    assert MAX_RETRY_DELAY == 60.0
    assert retry_delay(7, 1.0) == 60.0
    assert retry_delay(50, 1.0) == 60.0
    assert retry_delay(2, 45.0) == 60.0
    assert retry_delay(1024, 1.0) == 60.0


@pytest.mark.parametrize("base", [1.0, 0.0])
def test_retry_delay_stays_capped_for_very_many_deliveries(base: float) -> None:
    assert retry_delay(1025, base) == (60.0 if base else 0.0)
    assert retry_delay(10_000, base) == retry_delay(1025, base)


def test_retry_delay_base_zero_gives_zero() -> None:
    assert [retry_delay(n, 0.0) for n in (1, 2, 10)] == [0.0, 0.0, 0.0]


def test_retry_delay_never_below_base_for_odd_delivery_counts() -> None:
    assert retry_delay(0, 3.0) == 3.0
    assert retry_delay(-2, 3.0) == 3.0


# --- Outbox.add -----------------------------------------------------------------------


class RecordingSession:
    """Stands in for an AsyncSession: records statements, never commits."""

    def __init__(self) -> None:
        self.executed: list[Any] = []
        self.commits = 0

    async def execute(self, stmt: Any) -> None:
        self.executed.append(stmt)

    async def commit(self) -> None:  # pragma: no cover - must not be called
        self.commits += 1


async def test_outbox_refuses_another_services_envelope(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    outbox = Outbox(service="intake", table=tables[0])
    session = RecordingSession()
    foreign = Envelope.wrap(formed(), organisation_id=ORG, clock=clock)
    assert foreign.source == "/womento/matching"
    with pytest.raises(ValueError, match="intake cannot publish"):
        await outbox.add(session, foreign)  # type: ignore[arg-type]
    assert session.executed == []


async def test_outbox_refuses_a_forged_source(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    outbox = Outbox(service="intake", table=tables[0])
    session = RecordingSession()
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    forged = env.model_copy(update={"source": "/womento/intake/"})
    with pytest.raises(ValueError):
        await outbox.add(session, forged)  # type: ignore[arg-type]
    assert session.executed == []


async def test_outbox_add_inserts_the_row_and_notifies(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    outbox_table = tables[0]
    outbox = Outbox(service="intake", table=outbox_table)
    session = RecordingSession()
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)

    await outbox.add(session, env)  # type: ignore[arg-type]

    assert len(session.executed) == 2
    assert session.commits == 0
    insert, notify = session.executed

    assert isinstance(insert, Insert)
    assert insert.table is outbox_table
    params = compiled(insert).params
    assert params["id"] == env.id
    assert params["subject"] == "womento.intake.application_received"
    assert params["event_type"] == env.type
    assert params["payload"] == env.to_bytes()
    assert params["created_at"] == env.time
    assert Envelope.from_bytes(params["payload"]) == env
    assert set(params) == {"id", "subject", "event_type", "payload", "created_at"}

    assert isinstance(notify, sa.Select)
    notify_sql = compiled(notify)
    assert "pg_notify" in str(notify_sql)
    assert list(notify_sql.params.values()) == [notify_channel("intake"), ""]
    assert notify_channel("intake") == "womento_outbox_intake"


# --- Inbox.claim ----------------------------------------------------------------------


class FakeResult:
    def __init__(self, row: Any) -> None:
        self._row = row

    def first(self) -> Any:
        return self._row


@dataclass
class FakeDatabase:
    """Committed inbox rows, keyed by (consumer, event id); ON CONFLICT DO NOTHING semantics."""

    inbox: set[tuple[str, UUID]] = field(default_factory=set)
    commits: int = 0
    rollbacks: int = 0


class FakeSession:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.pending: set[tuple[str, UUID]] = set()
        self.statements: list[Any] = []

    async def execute(self, stmt: Any) -> FakeResult:
        self.statements.append(stmt)
        params = compiled(stmt).params
        key = (params["consumer"], params["event_id"])
        if key in self.db.inbox or key in self.pending:
            return FakeResult(None)
        self.pending.add(key)
        return FakeResult((params["event_id"],))

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def begin(self) -> FakeTransaction:
        return FakeTransaction(self)


class FakeTransaction:
    def __init__(self, session: FakeSession) -> None:
        self.session = session

    async def __aenter__(self) -> FakeTransaction:
        return self

    async def __aexit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.session.db.inbox |= self.session.pending
            self.session.db.commits += 1
        else:
            self.session.db.rollbacks += 1
        self.session.pending = set()


async def test_inbox_claim_statement(tables: tuple[sa.Table, sa.Table], clock: FrozenClock) -> None:
    inbox = Inbox(table=tables[1], clock=clock)
    session = FakeSession(FakeDatabase())
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)

    assert await inbox.claim(session, "matching__application_received", env) is True  # type: ignore[arg-type]

    (stmt,) = session.statements
    sql = str(compiled(stmt))
    assert "ON CONFLICT DO NOTHING" in sql
    assert "RETURNING" in sql
    params = compiled(stmt).params
    assert params["consumer"] == "matching__application_received"
    assert params["event_id"] == env.id
    assert params["event_type"] == env.type
    assert params["correlation_id"] == env.correlationid
    assert params["processed_at"] == START


async def test_inbox_claim_twice_is_false(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    inbox = Inbox(table=tables[1], clock=clock)
    db = FakeDatabase()
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    async with FakeSession(db) as s, s.begin():
        assert await inbox.claim(s, "a__x", env) is True  # type: ignore[arg-type]
    async with FakeSession(db) as s, s.begin():
        assert await inbox.claim(s, "a__x", env) is False  # type: ignore[arg-type]
        # another consumer has its own memory
        assert await inbox.claim(s, "b__x", env) is True  # type: ignore[arg-type]


# --- EventConsumer.handle -------------------------------------------------------------


class FakeMsg:
    def __init__(
        self, data: bytes, deliveries: int = 1, subject: str = "womento.intake.application_received"
    ) -> None:
        self.data = data
        self.subject = subject
        self.metadata = SimpleNamespace(
            num_delivered=deliveries,
            stream="WOMENTO_INTAKE",
            sequence=SimpleNamespace(stream=42, consumer=7),
        )
        self.acks = 0
        self.naks: list[float | None] = []

    async def ack(self) -> None:
        self.acks += 1

    async def nak(self, delay: float | None = None) -> None:
        self.naks.append(delay)


class FakeJetStream:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[dict[str, Any]] = []
        self.fail = fail

    async def publish(self, subject: str, payload: bytes, **kwargs: Any) -> None:
        if self.fail:
            raise ConnectionError("nats down")
        self.published.append({"subject": subject, "payload": payload, **kwargs})


@dataclass
class Harness:
    consumer: EventConsumer
    db: FakeDatabase
    js: FakeJetStream
    handled: list[Any]


def make_harness(
    tables: tuple[sa.Table, sa.Table],
    clock: FrozenClock,
    *,
    fail_with: BaseException | None = None,
    js_fails: bool = False,
) -> Harness:
    db = FakeDatabase()
    js = FakeJetStream(fail=js_fails)
    handled: list[Any] = []

    async def handler(session: Any, event: Any, envelope: Envelope) -> None:
        handled.append(event)
        if fail_with is not None:
            raise fail_with

    consumer = EventConsumer(
        service="matching",
        subscription=Subscription(event=ApplicationReceived, handler=handler),
        sessionmaker=lambda: lambda: FakeSession(db),  # type: ignore[arg-type,return-value]
        inbox=Inbox(table=tables[1], clock=clock),
        jetstream=lambda: js,  # type: ignore[arg-type,return-value]
        settings=Settings(max_deliver=3, retry_backoff_seconds=0.5),
    )
    return Harness(consumer, db, js, handled)


async def test_consumer_applies_then_acks(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock)
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    msg = FakeMsg(env.to_bytes())
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert h.handled == [env.open()]
    assert msg.acks == 1
    assert msg.naks == []
    assert h.db.inbox == {("matching__application_received", env.id)}
    assert h.js.published == []


async def test_consumer_duplicate_is_acked_without_reapplying(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock)
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    first, second = FakeMsg(env.to_bytes()), FakeMsg(env.to_bytes(), deliveries=2)
    await h.consumer.handle(first)  # type: ignore[arg-type]
    await h.consumer.handle(second)  # type: ignore[arg-type]
    assert len(h.handled) == 1
    assert (first.acks, second.acks) == (1, 1)


async def test_consumer_failure_naks_with_backoff_and_rolls_back(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock, fail_with=RuntimeError("db hiccup"))
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    msg = FakeMsg(env.to_bytes(), deliveries=2)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert msg.acks == 0
    assert msg.naks == [retry_delay(2, 0.5)] == [1.0]
    assert h.db.inbox == set()
    assert h.db.rollbacks == 1
    assert h.js.published == []


async def test_consumer_dead_letters_when_retries_are_exhausted(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock, fail_with=RuntimeError("still broken"))
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    msg = FakeMsg(env.to_bytes(), deliveries=3)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert msg.acks == 1
    assert msg.naks == []
    (dead,) = h.js.published
    assert dead["subject"] == dead_letter_subject("matching", "matching__application_received")
    assert dead["stream"] == DLQ_STREAM
    assert dead["payload"] == env.to_bytes()
    assert dead["headers"]["Nats-Msg-Id"] == "matching__application_received-WOMENTO_INTAKE-42"
    assert "retries exhausted" in dead["headers"]["Womento-Reason"]
    assert dead["headers"]["Womento-Deliveries"] == "3"


async def test_consumer_dead_letters_permanent_errors_at_once(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock, fail_with=PermanentError("no such cycle"))
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    msg = FakeMsg(env.to_bytes(), deliveries=1)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert msg.acks == 1
    (dead,) = h.js.published
    assert dead["headers"]["Womento-Reason"].startswith("rejected: no such cycle")
    assert h.db.inbox == set()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"{}",
        json.dumps({"specversion": "1.0"}).encode(),
    ],
)
async def test_consumer_dead_letters_malformed_messages(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock, payload: bytes
) -> None:
    h = make_harness(tables, clock)
    msg = FakeMsg(payload)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert h.handled == []
    assert msg.acks == 1
    (dead,) = h.js.published
    assert dead["headers"]["Womento-Reason"].startswith("malformed event")


async def test_consumer_dead_letters_an_event_of_the_wrong_type(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock)
    env = Envelope.wrap(CycleClosed(cycle_id=uuid4()), organisation_id=ORG, clock=clock)
    msg = FakeMsg(env.to_bytes())
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert h.handled == []
    (dead,) = h.js.published
    assert "expected womento.intake.application_received.v1" in dead["headers"]["Womento-Reason"]


SUBJECT = "womento.intake.application_received"


def test_an_envelope_from_the_subjects_producer_is_not_forged(clock: FrozenClock) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    assert forgery(ApplicationReceived, env, SUBJECT) is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/womento/matching", "forged: source /womento/matching does not own " + SUBJECT),
        ("/womento/intake/", "forged: source /womento/intake/ does not own " + SUBJECT),
        ("", "forged: source  does not own " + SUBJECT),
        ("/womento/intake\r\nX-Evil: 1", "forged: source /womento/intake??X-Evil: 1 does not own"),
    ],
    ids=["another service", "trailing slash", "empty", "header injection"],
)
def test_another_source_is_forged(clock: FrozenClock, source: str, expected: str) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    reason = forgery(ApplicationReceived, env.model_copy(update={"source": source}), SUBJECT)
    assert reason is not None and reason.startswith(expected)
    assert reason.isprintable()


def test_the_right_source_on_another_subject_is_forged(clock: FrozenClock) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    reason = forgery(ApplicationReceived, env, "womento.intake.cycle_closed")
    assert reason == (
        "forged: womento.intake.application_received.v1 arrived on womento.intake.cycle_closed,"
        " not womento.intake.application_received"
    )


def test_another_producers_type_under_the_right_source_is_forged(clock: FrozenClock) -> None:
    foreign = Envelope.wrap(formed(), organisation_id=ORG, clock=clock)
    disguised = foreign.model_copy(update={"source": "/womento/intake"})
    reason = forgery(ApplicationReceived, disguised, SUBJECT)
    assert reason is not None
    assert reason.startswith(f"forged: {foreign.type} is not an event of /womento/intake")


def test_a_type_of_the_same_producer_is_left_to_the_type_check(clock: FrozenClock) -> None:
    env = Envelope.wrap(CycleClosed(cycle_id=uuid4()), organisation_id=ORG, clock=clock)
    assert forgery(ApplicationReceived, env, SUBJECT) is None


def forged_count(subject: str) -> float:
    value = REGISTRY.get_sample_value(
        "womento_forged_events_total", {"service": "matching", "subject": subject}
    )
    return value or 0.0


@pytest.mark.parametrize("subject", [SUBJECT, "womento.intake.cycle_closed"])
async def test_consumer_dead_letters_a_forged_event_without_applying_it(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock, subject: str
) -> None:
    h = make_harness(tables, clock)
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    if subject == SUBJECT:
        env = env.model_copy(update={"source": "/womento/matching"})
    msg = FakeMsg(env.to_bytes(), subject=subject)
    before = forged_count(subject)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert h.handled == []
    assert h.db.inbox == set()
    assert msg.acks == 1
    (dead,) = h.js.published
    assert dead["headers"]["Womento-Reason"].startswith("forged: ")
    assert dead["payload"] == env.to_bytes()
    assert forged_count(subject) == before + 1


async def test_consumer_naks_when_dead_lettering_fails(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock, js_fails=True)
    msg = FakeMsg(b"garbage", deliveries=2)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert msg.acks == 0
    assert msg.naks == [retry_delay(2, 1.0)]


async def test_consumer_naks_when_dead_lettering_fails_after_many_deliveries(
    tables: tuple[sa.Table, sa.Table], clock: FrozenClock
) -> None:
    h = make_harness(tables, clock, js_fails=True)
    msg = FakeMsg(b"garbage", deliveries=1025)
    await h.consumer.handle(msg)  # type: ignore[arg-type]
    assert msg.naks == [60.0]


# --- faults ---------------------------------------------------------------------------


@pytest.fixture
def kills(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Records os.kill calls instead of killing, and disarms every crash point afterwards."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: calls.append((pid, sig)))
    faults.arm(frozenset())
    yield calls
    faults.arm(frozenset())


def test_arm_rejects_unknown_names(kills: list[tuple[int, int]]) -> None:
    with pytest.raises(ValueError, match=r"unknown crash points: outbox\.before_dinner"):
        faults.arm(frozenset({"outbox.after_publish", "outbox.before_dinner"}))
    # a refused arm leaves nothing armed
    faults.crashpoint("outbox.after_publish")
    assert kills == []


def test_crashpoint_with_nothing_armed_does_not_kill(kills: list[tuple[int, int]]) -> None:
    for name in sorted(faults.KNOWN):
        faults.crashpoint(name)
    faults.crashpoint("not.a.crashpoint")
    assert kills == []
    assert os.getpid() > 0  # still here


def test_crashpoint_kills_only_at_the_armed_name(kills: list[tuple[int, int]]) -> None:
    faults.arm(frozenset({"inbox.after_commit"}))
    faults.crashpoint("inbox.before_commit")
    faults.crashpoint("outbox.after_publish")
    assert kills == []
    faults.crashpoint("inbox.after_commit")
    assert kills == [(os.getpid(), signal.SIGKILL)]
