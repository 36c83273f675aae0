"""Writing the access log: `record` in the transaction of the read it records, and the one
change the log allows, `anonymise_subject`, for erasure.

Both write through the caller's session and never commit. The table refuses everything
else: a trigger (migration 0010_access_audit) rejects UPDATE, DELETE and TRUNCATE, and lets
an UPDATE through only when it changes nothing but `person_id` while the transaction-local
setting `womento.erasing` is `on`, which only `anonymise_subject` sets (and resets).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access.tables import What, Why, access_log
from services.intake.auth import Coordinator

ERASING_SETTING = "womento.erasing"


async def record(
    session: AsyncSession,
    *,
    coordinator: Coordinator,
    person_ids: Collection[UUID] | None,
    what: What,
    why: Why,
    path: str,
    client_address: str | None,
    at: datetime,
) -> UUID | None:
    """Record one access; its id, or None when it showed nobody.

    `person_ids`: the people whose data was shown, one row each; an empty collection (a
    list with nobody in it) records nothing; None (a download naming nobody intake knows,
    the research CSV) records one row without a person."""
    if person_ids is not None and not person_ids:
        return None
    access_id = uuid4()
    common = {
        "organisation_id": coordinator.organisation_id,
        "access_id": access_id,
        "coordinator_id": coordinator.id,
        "coordinator_role": coordinator.role,
        "what": what.value,
        "why": why.value,
        "path": path,
        "client_address": client_address,
        "at": at,
    }
    people: list[UUID | None] = [None] if person_ids is None else [*sorted(person_ids)]
    await session.execute(
        access_log.insert(), [common | {"person_id": person_id} for person_id in people]
    )
    return access_id


async def anonymise_subject(session: AsyncSession, person_id: UUID, replacement_id: UUID) -> int:
    """Put `replacement_id` (her erasure's id) where her id was, in the caller's transaction:
    the log keeps who looked at an erased person's data, and when, but no longer her id.
    The number of rows changed."""

    def erasing(value: str) -> sa.Select[tuple[str]]:
        return sa.select(sa.func.set_config(ERASING_SETTING, value, True))

    await session.execute(erasing("on"))
    changed = await session.execute(
        access_log.update()
        .where(access_log.c.person_id == person_id)
        .values(person_id=replacement_id)
    )
    await session.execute(erasing("off"))
    return int(changed.rowcount)  # type: ignore[attr-defined]
