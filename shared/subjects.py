"""Subjects, streams and consumer names: the addressing scheme of the event backbone.

- Events: `womento.<producing service>.<event>` (e.g. `womento.matching.pair_formed`),
  stored in one JetStream stream per producing service (`WOMENTO_MATCHING`).
- Dead letters: `womento.dlq.<consuming service>.<durable>` in the stream `WOMENTO_DLQ`.
- Commands: `womento.cmd.<owning service>.<command>`, core NATS request/reply (not stored).
- Durable pull consumers: one per (consuming service, event): `<service>__<event>`.
- Partner feed: `womento.partner.<organisation>.<partner>.<event>`, published by intake
  into `WOMENTO_PARTNER` and copied by intake's gateway into `PARTNER_FEED` in the
  partners' own account (`shared/natsauth.py`).
"""

from __future__ import annotations

from shared.events import SERVICES, Event

DLQ_STREAM = "WOMENTO_DLQ"
DLQ_SUBJECTS = ("womento.dlq.>",)
PARTNER_STREAM = "WOMENTO_PARTNER"
PARTNER_SUBJECTS = "womento.partner.>"
PARTNER_PREFIX = "womento.partner."


def stream_name(service: str) -> str:
    _check_service(service)
    return f"WOMENTO_{service.upper()}"


def stream_subjects(service: str) -> tuple[str, ...]:
    _check_service(service)
    return (f"womento.{service}.>",)


def durable_name(consumer_service: str, event: type[Event]) -> str:
    _check_service(consumer_service)
    return f"{consumer_service}__{event.event_name()}"


def dead_letter_subject(consumer_service: str, durable: str) -> str:
    _check_service(consumer_service)
    return f"womento.dlq.{consumer_service}.{durable}"


def partner_subject(organisation_id: object, partner_id: object, event: str) -> str:
    """Where one partner's copy of a partner event goes."""
    return f"{PARTNER_PREFIX}{organisation_id}.{partner_id}.{event}"


def publishing_stream(service: str, subject: str) -> str:
    """The stream that stores what `service` publishes on `subject`."""
    return PARTNER_STREAM if subject.startswith(PARTNER_PREFIX) else stream_name(service)


def command_subject(service: str, command: str) -> str:
    _check_service(service)
    return f"womento.cmd.{service}.{command}"


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
