"""Feedback's per-person data keys (`feedback.person_keys`, `shared.crypto`).

A person's free text in feedback (survey answers, interview notes, a coordinator's reason
for overriding her outcome) is encrypted under her own data key, stored wrapped under the
service's secret; deleting the row erases the text.
"""

from __future__ import annotations

from typing import Any
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


async def encrypt_for(
    session: AsyncSession,
    vault: PersonalDataVault,
    organisation_id: UUID,
    person_id: UUID,
    details: dict[str, Any],
) -> bytes:
    """`details` encrypted under her key (created on first need)."""
    key = await person_key(session, vault, organisation_id, person_id)
    return vault.encrypt(key, person_id, details)


async def wrapped_keys(session: AsyncSession, person_ids: set[UUID]) -> dict[UUID, bytes]:
    """The wrapped keys of those of `person_ids` who have one (an erased person has none)."""
    keys = m.person_keys
    rows = await session.execute(
        sa.select(keys.c.person_id, keys.c.wrapped_key).where(keys.c.person_id.in_(person_ids))
    )
    return {row.person_id: bytes(row.wrapped_key) for row in rows.all()}
