"""The CloudEvents 1.0 envelope (JSON structured mode) around every event.

Extension attributes follow the CloudEvents naming rule (lower-case letters and
digits): `organisationid`, `correlationid`, `causationid`. The envelope `id` is
also the `Nats-Msg-Id`, so JetStream drops a re-publish within its duplicate window
and consumers' inboxes drop it after that.
"""

from __future__ import annotations

import builtins
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from shared.clock import Clock
from shared.events import EVENT_TYPES, Event


class UnknownEventType(ValueError):
    pass


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID
    source: str
    type: str
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = None
    organisationid: UUID
    correlationid: UUID
    causationid: UUID | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        organisation_id: UUID,
        clock: Clock,
        caused_by: Envelope | None = None,
        correlation_id: UUID | None = None,
    ) -> Envelope:
        """Wrap `event` in a new envelope; a caused event inherits its cause's correlation id."""
        event_id = uuid4()
        if caused_by is not None:
            correlation_id = caused_by.correlationid
        return cls(
            id=event_id,
            source=f"/womento/{event.producer}",
            type=event.type_name(),
            time=clock.now(),
            organisationid=organisation_id,
            correlationid=correlation_id or event_id,
            causationid=caused_by.id if caused_by is not None else None,
            data=event.model_dump(mode="json"),
        )

    @property
    def nats_subject(self) -> str:
        return self.event_class().subject()

    def event_class(self) -> builtins.type[Event]:
        try:
            return EVENT_TYPES[self.type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {self.type!r}") from None

    def open(self) -> Event:
        """The typed event inside; raises `ValidationError` or `UnknownEventType` on bad data."""
        return self.event_class().model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


BadEnvelope = (ValidationError, UnknownEventType, ValueError)
