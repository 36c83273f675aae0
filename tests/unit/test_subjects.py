"""The addressing scheme: stream, subject and durable consumer names."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from shared.events import EVENT_TYPES, SERVICES, ApplicantAccepted, Event, PairFormed
from shared.subjects import (
    DLQ_STREAM,
    DLQ_SUBJECTS,
    command_subject,
    dead_letter_subject,
    durable_name,
    stream_name,
    stream_subjects,
)

# NATS: consumer and stream names may not contain whitespace, `.`, `*`, `>`, or path separators.
NATS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
ALL_EVENTS = sorted(EVENT_TYPES.values(), key=lambda cls: cls.__name__)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` is one or more tokens."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return i == len(want) - 1 and len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def test_subject_matcher() -> None:
    assert subject_matches("womento.intake.>", "womento.intake.cycle_closed")
    assert subject_matches("womento.intake.>", "womento.intake.a.b")
    assert not subject_matches("womento.intake.>", "womento.intake")
    assert not subject_matches("womento.intake.>", "womento.matching.pair_formed")
    assert subject_matches("womento.*.x", "womento.intake.x")
    assert not subject_matches("womento.*.x", "womento.intake.y.x")


def test_stream_name() -> None:
    assert stream_name("matching") == "WOMENTO_MATCHING"
    assert [stream_name(s) for s in SERVICES] == [
        "WOMENTO_INTAKE",
        "WOMENTO_MATCHING",
        "WOMENTO_SCHEDULING",
        "WOMENTO_FEEDBACK",
    ]
    names = [stream_name(s) for s in SERVICES] + [DLQ_STREAM]
    assert len(set(names)) == len(names)
    assert all(NATS_NAME.fullmatch(n) for n in names)


def test_stream_subjects() -> None:
    assert stream_subjects("scheduling") == ("womento.scheduling.>",)
    assert DLQ_SUBJECTS == ("womento.dlq.>",)


def test_durable_name() -> None:
    assert durable_name("matching", PairFormed) == "matching__pair_formed"
    assert durable_name("scheduling", PairFormed) == "scheduling__pair_formed"
    assert durable_name("matching", ApplicantAccepted) == "matching__applicant_accepted"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda c: c.__name__)
def test_durable_names_are_valid_nats_names(service: str, event: type[Event]) -> None:
    name = durable_name(service, event)
    assert NATS_NAME.fullmatch(name), name
    assert "." not in name
    assert " " not in name


def test_durable_names_are_unique_per_service_and_event() -> None:
    names = [durable_name(s, e) for s in SERVICES for e in ALL_EVENTS]
    assert len(names) == len(set(names)) == len(SERVICES) * len(ALL_EVENTS)


def test_dead_letter_subject() -> None:
    durable = durable_name("scheduling", PairFormed)
    subject = dead_letter_subject("scheduling", durable)
    assert subject == "womento.dlq.scheduling.scheduling__pair_formed"
    assert subject_matches(DLQ_SUBJECTS[0], subject)
    # dead letters are not captured by any producer's event stream
    assert not any(subject_matches(p, subject) for s in SERVICES for p in stream_subjects(s))


def test_command_subject() -> None:
    assert command_subject("intake", "export_person") == "womento.cmd.intake.export_person"
    subject = command_subject("matching", "run")
    # commands are request/reply only: no stream may store them
    all_stream_patterns = [p for s in SERVICES for p in stream_subjects(s)] + list(DLQ_SUBJECTS)
    assert not any(subject_matches(p, subject) for p in all_stream_patterns)


@pytest.mark.parametrize(
    "call",
    [
        lambda: stream_name("billing"),
        lambda: stream_subjects("billing"),
        lambda: durable_name("billing", PairFormed),
        lambda: command_subject("billing", "run"),
        lambda: stream_name("Intake"),
        lambda: stream_name(""),
        lambda: stream_subjects("dlq"),
        lambda: command_subject("cmd", "run"),
    ],
)
def test_unknown_service_is_a_value_error(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        call()


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_subject_is_in_its_producers_stream(event: type[Event]) -> None:
    subject = event.subject()
    assert any(subject_matches(p, subject) for p in stream_subjects(event.producer))
    others = [s for s in SERVICES if s != event.producer]
    assert not any(subject_matches(p, subject) for s in others for p in stream_subjects(s))
    assert not any(subject_matches(p, subject) for p in DLQ_SUBJECTS)


def test_streams_do_not_overlap() -> None:
    """JetStream refuses two streams whose subjects overlap."""
    patterns = [p for s in SERVICES for p in stream_subjects(s)] + list(DLQ_SUBJECTS)
    prefixes = [p.removesuffix(".>") for p in patterns]
    assert all(p.endswith(".>") for p in patterns)
    assert len(set(prefixes)) == len(prefixes)
    for a in prefixes:
        for b in prefixes:
            if a != b:
                assert not (a + ".").startswith(b + ".")
