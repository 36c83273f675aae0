"""What partner systems receive: a curated feed, per organisation and per partner.

Partner events are not the services' events: they carry no person id and nothing that
could single out a person (no names, no free text, no reason codes, no exact dates of a
pair's meetings); a pair appears under a pseudonym of its own for each partner, so a
partner can relate a pair's meetings to its forming and ending, and two partners cannot
join what they hold. Which events and fields, and why: `docs/partners.md`.

Each partner's copy is published on `womento.partner.<organisation>.<partner>.<event>`
(`shared.subjects.partner_subject`) in a CloudEvents 1.0 envelope (`PartnerEnvelope`)
whose `id` is the `Nats-Msg-Id` and the `webhook-id`: the same for every redelivery.
"""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import MeetingMode, Outcome

CYCLE = "The cycle (cohort): the same id in every event about it"
PAIR = "This partner's pseudonym of the pair: the same in every event about the pair"


class PartnerEvent(BaseModel):
    """Base of every partner event; `version` changes when its shape does."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: ClassVar[int] = 1

    @classmethod
    def event_name(cls) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    @classmethod
    def type_name(cls) -> str:
        return f"womento.partner.{cls.event_name()}.v{cls.version}"


class CycleOpened(PartnerEvent):
    """A cycle (cohort) opened for applications."""

    cycle_id: UUID = Field(description=CYCLE)
    programme_id: UUID = Field(description="The programme the cycle belongs to")
    applications_open: date = Field(description="First day applications are accepted")
    applications_close: date = Field(description="Last day applications are accepted")
    starts_on: date = Field(description="First day of the mentoring period")
    ends_on: date = Field(description="Last day of the mentoring period")


class CycleClosed(PartnerEvent):
    """A cycle's application window closed, with the numbers of applications received."""

    cycle_id: UUID = Field(description=CYCLE)
    mentee_applications: int = Field(ge=0, description="Mentees who applied to the cycle")
    mentor_applications: int = Field(ge=0, description="Mentors who applied to the cycle")


class PairFormed(PartnerEvent):
    """A mentee and a mentor were paired. `pair` is this partner's pseudonym of the pair."""

    pair: UUID = Field(description=PAIR)
    cycle_id: UUID = Field(description=CYCLE)


class PairEnded(PartnerEvent):
    """A pair ended before its cycle did (the reason stays with the programme)."""

    pair: UUID = Field(description=PAIR)
    cycle_id: UUID = Field(description=CYCLE)


class MeetingHeld(PartnerEvent):
    """A pair meeting was held: its month, length and form, never its day or topics."""

    pair: UUID = Field(description=PAIR)
    cycle_id: UUID = Field(description=CYCLE)
    month: str = Field(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="The month it was held in, YYYY-MM"
    )
    minutes: int = Field(gt=0, le=24 * 60, description="How long it lasted, in minutes")
    mode: MeetingMode = Field(description="`online` or `in_person`")


class OutcomeRecorded(PartnerEvent):
    """A mentee's outcome was recorded. No person and no pair: only the cycle counts."""

    cycle_id: UUID = Field(description=CYCLE)
    outcome: Outcome = Field(description="The outcome, one of the programme's six classes")


PARTNER_EVENTS: dict[str, type[PartnerEvent]] = {
    cls.type_name(): cls
    for cls in (CycleOpened, CycleClosed, PairFormed, PairEnded, MeetingHeld, OutcomeRecorded)
}


class PartnerEnvelope(BaseModel):
    """CloudEvents 1.0, JSON structured mode: what a partner's message body is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(
        description="The message's id, also its `Nats-Msg-Id`: the same on every "
        "redelivery, so de-duplicate by it"
    )
    source: Literal["/womento/partner-feed"] = "/womento/partner-feed"
    type: str = Field(description="`womento.partner.<event>.v<version>`")
    time: AwareDatetime = Field(
        description="When the programme recorded it (RFC 3339, with its offset), no finer "
        "than its data: for a meeting the first day of the month, for an outcome the day, "
        "at 00:00 UTC"
    )
    datacontenttype: Literal["application/json"] = "application/json"
    organisationid: UUID = Field(description="The organisation (programme operator) it is from")
    partnerid: UUID = Field(description="The partner this copy is for: you")
    data: dict[str, object] = Field(description="The event: its schema depends on `type`")

    def open(self) -> PartnerEvent:
        return PARTNER_EVENTS[self.type].model_validate(self.data)
