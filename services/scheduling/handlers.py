"""Event handlers of the scheduling service: event -> effect, inside the consumer's transaction.

Handlers get no clock: "now" is the event's own time (`envelope.time`).
"""

import logging
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import models, schedule
from services.scheduling.models import applications, cycles
from shared.envelope import Envelope
from shared.erasure import Erasure
from shared.events import ApplicationReceived, CycleOpened, PairEnded, PairFormed
from shared.pairs import pair_subscriptions
from shared.personal_data import (
    ERASE_ANONYMISE,
    ERASE_DELETE,
    Holding,
    Purpose,
    apply_erasure,
    jsonable,
)

log = logging.getLogger(__name__)


_keep_pair = {s.event: s.handler for s in pair_subscriptions(models.pairs)}


async def on_application_received(
    session: AsyncSession, event: ApplicationReceived, envelope: Envelope
) -> None:
    """Record the application: the people whom meetings and trainings will invite."""
    await session.execute(
        applications.insert().values(
            application_id=event.application_id,
            person_id=event.person_id,
            organisation_id=envelope.organisationid,
            cycle_id=event.cycle_id,
            role=event.role.value,
            submitted_at=event.submitted_at,
        )
    )


async def on_cycle_opened(session: AsyncSession, event: CycleOpened, envelope: Envelope) -> None:
    """Remember the cycle's dates; pairs that arrived before it are planned again from them."""
    await session.execute(
        insert(cycles)
        .values(
            cycle_id=event.cycle_id,
            organisation_id=envelope.organisationid,
            programme_id=event.programme_id,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
        )
        .on_conflict_do_nothing()
    )
    await schedule.replan_from_cycle(session, event.cycle_id, envelope.time)


async def on_pair_formed(session: AsyncSession, event: PairFormed, envelope: Envelope) -> None:
    """Keep the pair, plan its months with their missed checks and its at-risk check, and
    invite its two people to what is coming."""
    await _keep_pair[PairFormed](session, event, envelope)
    pair = await schedule.pair_row(session, event.pair_id)
    if pair.plan_basis is not None:  # planned already (the same pair formed twice)
        return
    months = await schedule.plan_pair(session, pair, envelope.time)
    if (await schedule.cycle_row(session, pair.cycle_id)) is None:
        log.warning(
            "pair formed in a cycle not known yet: planned from its formation",
            extra={"pair_id": str(pair.pair_id), "cycle_id": str(pair.cycle_id), "months": months},
        )
    await schedule.invite_pair(session, pair, envelope.time)


async def on_pair_ended(session: AsyncSession, event: PairEnded, envelope: Envelope) -> None:
    """The pair ends (see `shared.pairs` for a `PairEnded` that overtakes its `PairFormed`):
    its pending checks are dropped and an open at-risk flag is closed."""
    await _keep_pair[PairEnded](session, event, envelope)
    await schedule.cancel_pair_jobs(session, event.pair_id, envelope.time)


HOLDINGS = (
    Holding(models.applications, ("person_id",), Purpose.PROGRAMME, ERASE_DELETE),
    Holding(models.invitations, ("person_id",), Purpose.PROGRAMME, ERASE_ANONYMISE),
    Holding(models.pairs, ("mentee_id", "mentor_id"), Purpose.PROGRAMME, ERASE_ANONYMISE),
)
"""What scheduling holds on a person (shared/personal_data.py); her reminders not yet sent
(`jobs`, her id in their payload) are deleted by `erase_person`, her pairs' meetings are in
her export through her pairs."""


async def erase_person(erasure: Erasure) -> None:
    """`PersonErased`: her applications go, and the reminders not yet sent to her; her
    invitations (attendance counts) and pairs (the other person's too) stay under the
    pseudonym."""
    jobs = models.jobs
    names_her = sa.cast(jobs.c.payload, sa.Text).contains(str(erasure.person_id))
    await erasure.session.execute(jobs.delete().where(jobs.c.fired_at.is_(None), names_her))
    await erasure.scrub_json(jobs, "payload")
    await apply_erasure(erasure.session, HOLDINGS, erasure.person_id, erasure.pseudonym)


async def export_extra(
    session: AsyncSession, person_id: UUID, organisation_id: UUID, ctx: Any
) -> dict[str, Any]:
    """The meetings of her pairs (hers as much as her pair's)."""
    pairs = models.pairs
    hers = sa.select(pairs.c.pair_id).where(
        sa.or_(pairs.c.mentee_id == person_id, pairs.c.mentor_id == person_id),
        pairs.c.organisation_id == organisation_id,
    )
    meetings = models.meetings
    rows = (
        await session.execute(sa.select(meetings).where(meetings.c.pair_id.in_(hers)))
    ).mappings()
    return {"meetings": [{k: jsonable(v) for k, v in row.items()} for row in rows]}
