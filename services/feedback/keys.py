"""Feedback's per-person data keys (`feedback.person_keys`, `shared.crypto`).

A person's free text in feedback (survey answers, interview notes) is encrypted under her
own data key, stored wrapped under the service's secret; deleting the row erases the text.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import models as m
from shared.crypto import PersonalDataVault


async def person_key(
    session: AsyncSession, vault: PersonalDataVault, organisation_id: UUID, person_id: UUID
) -> bytes:
    """Her wrapped data key, created on first need."""
    keys = m.person_keys
    await session.execute(
        insert(keys)
        .values(
            person_id=person_id,
            organisation_id=organisation_id,
            wrapped_key=vault.new_wrapped_key(person_id),
        )
        .on_conflict_do_nothing(index_elements=[keys.c.person_id])
    )
    key = await session.scalar(sa.select(keys.c.wrapped_key).where(keys.c.person_id == person_id))
    if key is None:  # erased in the same transaction: never expected
        raise RuntimeError("the person's key disappeared")
    return bytes(key)
