"""The CloudEvents 1.0 envelope: attributes, causation chain, serialisation, rejection."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from shared.clock import FrozenClock
from shared.envelope import BadEnvelope, Envelope, UnknownEventType
from shared.events import ApplicationReceived, PairFormed, Role

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ORG = UUID("00000000-0000-4000-8000-00000000000a")
CLOUDEVENTS_ATTRIBUTE = re.compile(r"^[a-z0-9]+$")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def received() -> ApplicationReceived:
    return ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=Role.MENTEE,
        submitted_at=START,
    )


def formed() -> PairFormed:
    return PairFormed(
        pair_id=uuid4(), cycle_id=uuid4(), mentee_id=uuid4(), mentor_id=uuid4(), score=0.75
    )


def test_wrap_fills_cloudevents_attributes(clock: FrozenClock) -> None:
    event = received()
    env = Envelope.wrap(event, organisation_id=ORG, clock=clock)

    assert env.specversion == "1.0"
    assert isinstance(env.id, UUID)
    assert env.id.version == 4
    assert env.source == "/womento/intake"
    assert env.type == event.type_name() == "womento.intake.application_received.v1"
    assert env.time == START
    assert env.time.tzinfo is not None
    assert env.time.utcoffset() == timedelta(0)
    assert env.datacontenttype == "application/json"
    assert env.organisationid == ORG
    assert env.data == event.model_dump(mode="json")
    assert env.nats_subject == "womento.intake.application_received"


def test_wrap_uses_the_given_clock(clock: FrozenClock) -> None:
    first = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    clock.advance(timedelta(hours=2))
    second = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    assert second.time - first.time == timedelta(hours=2)


def test_each_wrap_gets_a_new_id(clock: FrozenClock) -> None:
    event = received()
    ids = {Envelope.wrap(event, organisation_id=ORG, clock=clock).id for _ in range(5)}
    assert len(ids) == 5


def test_correlation_id_defaults_to_the_event_id(clock: FrozenClock) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    assert env.correlationid == env.id
    assert env.causationid is None


def test_explicit_correlation_id_is_kept(clock: FrozenClock) -> None:
    correlation = uuid4()
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock, correlation_id=correlation)
    assert env.correlationid == correlation
    assert env.id != correlation


def test_caused_envelope_inherits_correlation_and_records_causation(clock: FrozenClock) -> None:
    correlation = uuid4()
    cause = Envelope.wrap(received(), organisation_id=ORG, clock=clock, correlation_id=correlation)
    effect = Envelope.wrap(formed(), organisation_id=ORG, clock=clock, caused_by=cause)
    further = Envelope.wrap(formed(), organisation_id=ORG, clock=clock, caused_by=effect)

    assert effect.correlationid == correlation
    assert effect.causationid == cause.id
    assert effect.source == "/womento/matching"
    assert further.correlationid == correlation
    assert further.causationid == effect.id


def test_cause_wins_over_explicit_correlation_id(clock: FrozenClock) -> None:
    cause = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    effect = Envelope.wrap(
        formed(), organisation_id=ORG, clock=clock, caused_by=cause, correlation_id=uuid4()
    )
    assert effect.correlationid == cause.correlationid == cause.id


def test_bytes_round_trip(clock: FrozenClock) -> None:
    cause = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    env = Envelope.wrap(formed(), organisation_id=ORG, clock=clock, caused_by=cause)
    raw = env.to_bytes()
    assert isinstance(raw, bytes)
    assert Envelope.from_bytes(raw) == env
    assert Envelope.from_bytes(raw).to_bytes() == raw


def test_open_returns_an_equal_typed_event(clock: FrozenClock) -> None:
    event = received()
    env = Envelope.from_bytes(Envelope.wrap(event, organisation_id=ORG, clock=clock).to_bytes())
    opened = env.open()
    assert type(opened) is ApplicationReceived
    assert opened == event
    assert env.event_class() is ApplicationReceived


def test_open_rejects_data_that_does_not_fit_the_type(clock: FrozenClock) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    broken = env.model_copy(update={"data": {**env.data, "role": "boss"}})
    with pytest.raises(ValidationError):
        broken.open()


def _as_json(env: Envelope) -> dict[str, object]:
    return json.loads(env.to_bytes())


def test_unknown_type_raises_unknown_event_type(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    doc["type"] = "womento.intake.application_received.v99"
    env = Envelope.from_bytes(json.dumps(doc).encode())
    with pytest.raises(UnknownEventType):
        env.open()
    with pytest.raises(UnknownEventType):
        _ = env.nats_subject
    assert issubclass(UnknownEventType, BadEnvelope)


def test_extra_attribute_rejected(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    doc["traceparent2"] = "x"
    with pytest.raises(ValidationError):
        Envelope.from_bytes(json.dumps(doc).encode())


def test_missing_id_rejected(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    del doc["id"]
    with pytest.raises(ValidationError):
        Envelope.from_bytes(json.dumps(doc).encode())


def test_naive_time_rejected(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    doc["time"] = "2025-03-01T09:30:00"
    with pytest.raises(ValidationError):
        Envelope.from_bytes(json.dumps(doc).encode())


def test_other_specversion_rejected(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    doc["specversion"] = "0.3"
    with pytest.raises(ValidationError):
        Envelope.from_bytes(json.dumps(doc).encode())


def test_non_utc_aware_time_is_accepted_and_equal(clock: FrozenClock) -> None:
    doc = _as_json(Envelope.wrap(received(), organisation_id=ORG, clock=clock))
    doc["time"] = "2025-03-01T11:30:00+02:00"
    env = Envelope.from_bytes(json.dumps(doc).encode())
    assert env.time == START
    assert env.time.tzinfo is not None
    assert env.time.utcoffset() == timedelta(hours=2)


def test_envelope_is_frozen(clock: FrozenClock) -> None:
    env = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    with pytest.raises(ValidationError):
        env.type = "womento.intake.cycle_closed.v1"  # type: ignore[misc]


def test_json_keys_are_cloudevents_attribute_names(clock: FrozenClock) -> None:
    cause = Envelope.wrap(received(), organisation_id=ORG, clock=clock)
    env = Envelope.wrap(formed(), organisation_id=ORG, clock=clock, caused_by=cause)
    doc = _as_json(env)
    required = {"specversion", "id", "source", "type"}
    assert required <= doc.keys()
    attributes = set(doc) - {"data"}
    bad = sorted(k for k in attributes if not CLOUDEVENTS_ATTRIBUTE.fullmatch(k))
    assert bad == []
    assert "data" in doc
    assert isinstance(doc["data"], dict)
    # every attribute name declared by the model follows the rule too, not just the set ones
    assert all(
        CLOUDEVENTS_ATTRIBUTE.fullmatch(name) for name in Envelope.model_fields if name != "data"
    )
