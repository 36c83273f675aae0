"""Programmes and their cycles: settings, default dates, and a cycle's life.

A cycle is created as a draft with dates that follow the programme (applications in its
application months, eight months long by default); opening it takes applications and
rolls over the programme's consenting waitlisted applicants; closing it ends the window.
Service functions write through the caller's session and never commit.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.domain import (
    CycleDates,
    CycleStatus,
    Status,
    check_cycle_dates,
    default_cycle_dates,
    next_cycle_status,
)
from services.intake.service import Problem, record_transition
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import ApplicationReceived, CycleClosed, CycleOpened, Role
from shared.outbox import Outbox

MatchingComponent = Literal[
    "field", "education", "languages", "finnish_support", "region", "topics", "availability"
]
DEFAULT_WEIGHTS: dict[MatchingComponent, float] = {
    "field": 3.0,
    "education": 1.0,
    "languages": 1.0,
    "finnish_support": 1.0,
    "region": 1.0,
    "topics": 2.0,
    "availability": 1.0,
}
"""Intake's copy of matching's defaults: a programme's settings start from these."""

ProgrammeName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)
]


class ProgrammeSettings(BaseModel):
    """A programme's settings (DESIGN.md); matching weights arrive with the matching service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: tuple[str, ...] = Field(default=("fi", "en", "sv"), min_length=1)
    cycle_months: int = Field(default=8, ge=1, le=24)
    group_meetings: int = Field(default=4, ge=0, le=12)
    pair_meeting_cadence_days: int = Field(default=31, ge=7, le=92)
    application_months: tuple[int, ...] = Field(default=(1, 8), min_length=1, max_length=12)
    retention_months: int = Field(
        default=12,
        ge=1,
        le=120,
        description="months personal data is kept after her latest cycle ends (retention.py)",
    )
    matching_weights: dict[MatchingComponent, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="how much each compatibility component counts (0-10)",
    )

    @field_validator("matching_weights")
    @classmethod
    def _weights_in_range(cls, weights: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= w <= 10 for w in weights.values()) or not any(weights.values()):
            raise ValueError("weights are 0-10 and at least one is above 0")
        return weights


async def create_programme(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    name: str,
    settings: ProgrammeSettings | None = None,
    programme_id: UUID | None = None,
) -> UUID:
    programme_id = programme_id or uuid4()
    await session.execute(
        m.programmes.insert().values(
            id=programme_id,
            organisation_id=organisation_id,
            name=name,
            settings=(settings or ProgrammeSettings()).model_dump(mode="json"),
        )
    )
    return programme_id


async def programme(session: AsyncSession, *, organisation_id: UUID, programme_id: UUID) -> Any:
    return (
        await session.execute(
            sa.select(m.programmes).where(
                m.programmes.c.id == programme_id, m.programmes.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()


async def matching_weights(
    session: AsyncSession, *, organisation_id: UUID, cycle_id: UUID
) -> dict[str, float] | None:
    """The weights of the cycle's programme, or None for matching's defaults."""
    settings = await session.scalar(
        sa.select(m.programmes.c.settings)
        .join(m.cycles, m.cycles.c.programme_id == m.programmes.c.id)
        .where(m.cycles.c.id == cycle_id, m.cycles.c.organisation_id == organisation_id)
    )
    if settings is None:
        return None
    return dict(ProgrammeSettings.model_validate(settings).matching_weights)


def suggested_dates(settings: dict[str, Any], today: date) -> CycleDates:
    parsed = ProgrammeSettings.model_validate(settings)
    return default_cycle_dates(
        today, application_months=parsed.application_months, cycle_months=parsed.cycle_months
    )


async def create_cycle(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    programme_id: UUID,
    name: str,
    dates: CycleDates,
    cycle_id: UUID | None = None,
) -> UUID:
    """A draft cycle of one of the organisation's programmes."""
    if await programme(session, organisation_id=organisation_id, programme_id=programme_id) is None:
        raise Problem(404, ("programme_id",), "no such programme", "unknown_programme")
    if (reason := check_cycle_dates(dates)) is not None:
        raise Problem(422, ("applications_close",), reason, reason)
    cycle_id = cycle_id or uuid4()
    await session.execute(
        m.cycles.insert().values(
            id=cycle_id,
            organisation_id=organisation_id,
            programme_id=programme_id,
            name=name,
            status=CycleStatus.DRAFT.value,
            applications_open=dates.applications_open,
            applications_close=dates.applications_close,
            starts_on=dates.starts_on,
            ends_on=dates.ends_on,
        )
    )
    return cycle_id


async def advance_cycle(
    session: AsyncSession,
    *,
    organisation_id: UUID,
    cycle_id: UUID,
    to: CycleStatus,
    outbox: Outbox,
    clock: Clock,
) -> None:
    """Move a cycle one step on: opening emits `CycleOpened` (and rolls over the waitlist),
    closing the window (open → screening) emits `CycleClosed`."""
    cycle = (
        await session.execute(
            sa.select(m.cycles)
            .where(m.cycles.c.id == cycle_id, m.cycles.c.organisation_id == organisation_id)
            .with_for_update()
        )
    ).one_or_none()
    if cycle is None:
        raise Problem(404, ("cycle_id",), "no such cycle", "unknown_cycle")
    if next_cycle_status(CycleStatus(cycle.status)) is not to:
        raise Problem(409, ("status",), f"a {cycle.status} cycle cannot become {to}", "cycle_step")
    await session.execute(
        m.cycles.update().where(m.cycles.c.id == cycle_id).values(status=to.value)
    )
    if to is CycleStatus.OPEN:
        event = CycleOpened(
            cycle_id=cycle_id,
            programme_id=cycle.programme_id,
            applications_open=cycle.applications_open,
            applications_close=cycle.applications_close,
            starts_on=cycle.starts_on,
            ends_on=cycle.ends_on,
        )
        opened = Envelope.wrap(event, organisation_id=organisation_id, clock=clock)
        await outbox.add(session, opened)
        await roll_over_waitlisted(
            session,
            cycle_id=cycle_id,
            programme_id=cycle.programme_id,
            outbox=outbox,
            clock=clock,
            caused_by=opened,
        )
    elif to is CycleStatus.SCREENING:
        closed = CycleClosed(cycle_id=cycle_id)
        await outbox.add(
            session, Envelope.wrap(closed, organisation_id=organisation_id, clock=clock)
        )


async def roll_over_waitlisted(
    session: AsyncSession,
    *,
    cycle_id: UUID,
    programme_id: UUID,
    outbox: Outbox,
    clock: Clock,
    caused_by: Envelope,
) -> int:
    """Waitlisted applicants of the programme who consented join the new cycle, screened."""
    a, c, consent = m.applications, m.cycles, m.consents
    already = sa.select(a.c.rolled_over_from).where(a.c.rolled_over_from.is_not(None))
    candidates = (
        await session.execute(
            sa.select(a)
            .join(c, c.c.id == a.c.cycle_id)
            .join(consent, consent.c.person_id == a.c.person_id)
            .where(
                c.c.programme_id == programme_id,
                c.c.id != cycle_id,
                a.c.status == Status.WAITLISTED.value,
                consent.c.purpose == "rollover",
                consent.c.withdrawn_at.is_(None),
                a.c.id.not_in(already),
            )
        )
    ).all()
    now = clock.now()
    for old in candidates:
        new_id = uuid4()
        await session.execute(
            a.insert().values(
                id=new_id,
                organisation_id=old.organisation_id,
                cycle_id=cycle_id,
                person_id=old.person_id,
                role=old.role,
                status=Status.ELIGIBLE.value,
                profile=old.profile,
                submitted_at=now,
                updated_at=now,
                screening_reasons=[],
                screening_notes=[*old.screening_notes, "rolled_over"],
                sealed_notes=old.sealed_notes,  # the same person, so the same key
                rolled_over_from=old.id,
            )
        )
        await record_transition(
            session, new_id, None, Status.ELIGIBLE, "system", ("rolled_over",), now
        )
        received = ApplicationReceived(
            application_id=new_id,
            person_id=old.person_id,
            cycle_id=cycle_id,
            role=Role(old.role),
            submitted_at=now,
        )
        await outbox.add(
            session,
            Envelope.wrap(
                received, organisation_id=old.organisation_id, clock=clock, caused_by=caused_by
            ),
        )
    return len(candidates)
