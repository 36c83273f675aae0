"""Retention (docs/privacy.md, "Retention"): each programme keeps a person's data for
`retention_months` after the end of her latest cycle (default `DEFAULT_RETENTION_MONTHS`),
then a clock-driven sweep erases her through the same path as any erasure
(`services.intake.erasure.erase_person`, reason `retention`). Coordinators see who is due
within `PREVIEW_DAYS` before it happens. What the funder's reports need across years stays,
anonymous, in feedback (`shared.personal_data`, `REPORTING`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import erasure
from services.intake import models as m
from services.intake.cycles import ProgrammeSettings
from shared.service import Runtime, keep_running

log = logging.getLogger(__name__)

DEFAULT_RETENTION_MONTHS: int = ProgrammeSettings.model_fields["retention_months"].default
"""12: six months for the follow-up survey after the cycle, six more for the funder's yearly
report and questions about it (docs/privacy.md explains the choice)."""
PREVIEW_DAYS = 30


@dataclass(frozen=True)
class Due:
    person_id: UUID
    organisation_id: UUID
    erase_on: date
    """The first day she may be erased: her latest cycle's end plus the retention."""


def _erase_on() -> sa.ColumnElement[date]:
    months = sa.func.coalesce(
        m.programmes.c.settings["retention_months"].as_integer(), DEFAULT_RETENTION_MONTHS
    )
    return sa.cast(sa.func.max(m.cycles.c.ends_on + sa.func.make_interval(0, months)), sa.Date)


async def due_by(
    session: AsyncSession, day: date, organisation_id: UUID | None = None
) -> list[Due]:
    """The people whose data may be kept no later than `day` (all organisations unless
    one is given), earliest first. A person with several applications is kept for her
    latest cycle."""
    apps, cycles, programmes = m.applications, m.cycles, m.programmes
    erase_on = _erase_on().label("erase_on")
    query = (
        sa.select(apps.c.person_id, apps.c.organisation_id, erase_on)
        .join(cycles, cycles.c.id == apps.c.cycle_id)
        .join(programmes, programmes.c.id == cycles.c.programme_id)
        .group_by(apps.c.person_id, apps.c.organisation_id)
        .having(_erase_on() <= day)
        .order_by(erase_on)
    )
    if organisation_id is not None:
        query = query.where(apps.c.organisation_id == organisation_id)
    return [Due(r.person_id, r.organisation_id, r.erase_on) for r in await session.execute(query)]


async def sweep(runtime: Runtime) -> int:
    """Erase everyone whose retention has ended by the clock's today; how many. Each in
    her own transaction; a person another intake copy erased meanwhile is skipped."""
    today = runtime.clock.now().date()
    async with runtime.sessionmaker() as session:
        due = await due_by(session, today)
    erased = 0
    for person in due:
        try:
            async with runtime.sessionmaker() as session, session.begin():
                await erasure.erase_person(
                    session,
                    secret_key=runtime.settings.secret_key,
                    organisation_id=person.organisation_id,
                    person_id=person.person_id,
                    reason=erasure.Reason.RETENTION,
                    requested_by=None,
                    now=runtime.clock.now(),
                )
            erased += 1
        except erasure.ErasureRefused:
            continue
    if erased:
        log.info("retention: people erased", extra={"erased": erased})
    return erased


def preview_until(today: date) -> date:
    return today + timedelta(days=PREVIEW_DAYS)


class BadRetention(ValueError):
    """Not a number of months from 1 to 120."""


async def set_retention(
    session: AsyncSession, organisation_id: UUID, programme_id: UUID, months: str
) -> bool:
    """Set a programme's retention (`BadRetention`); False if it is not the organisation's."""
    try:
        value = int(months)
        ProgrammeSettings(retention_months=value)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise BadRetention(months) from exc
    programmes = m.programmes
    current = await session.scalar(
        sa.select(programmes.c.settings).where(
            programmes.c.id == programme_id, programmes.c.organisation_id == organisation_id
        )
    )
    if current is None:
        return False
    await session.execute(
        programmes.update()
        .where(programmes.c.id == programme_id)
        .values(settings={**current, "retention_months": value})
    )
    return True


async def retention_worker(runtime: Runtime) -> None:
    """`ServiceDefinition.workers` entry: the retention sweep, every
    `WOMENTO_RETENTION_SWEEP_SECONDS` (a minute)."""

    async def loop() -> None:
        while True:
            await sweep(runtime)
            await asyncio.sleep(runtime.settings.retention_sweep_seconds)

    await keep_running("retention sweep", loop)
