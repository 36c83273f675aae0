"""Consent, stored: the texts she was shown (`intake.consent_texts`, one row per purpose,
version and language, never changed once published) and her withdrawing a purpose.

`withdraw` runs in the caller's transaction: `withdrawn_at` is set on the consent (the
update's own condition makes a second withdrawal, even a racing one, `already_withdrawn`),
and for `background` her answers and the screening codes derived from them are removed
from the ciphertexts under her key. `processing` is not withdrawn here: the caller erases
her (`services.intake.erasure.erase_person`, reason `consent_withdrawn`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.consent.domain import (
    Given,
    Purpose,
    WithdrawalRefused,
    check_withdrawal,
    without_background,
    without_background_codes,
)
from shared.crypto import PersonalDataVault


async def consents_of(session: AsyncSession, person_id: UUID) -> list[Given]:
    """Her consents, oldest first, each with the text she was shown."""
    c, t = m.consents, m.consent_texts
    rows = await session.execute(
        sa.select(c.c.purpose, c.c.version, c.c.language, c.c.given_at, c.c.withdrawn_at, t.c.text)
        .join(
            t,
            (t.c.purpose == c.c.purpose)
            & (t.c.version == c.c.version)
            & (t.c.language == c.c.language),
        )
        .where(c.c.person_id == person_id)
        .order_by(c.c.given_at, c.c.purpose)
    )
    return [Given(**row._mapping) for row in rows]


async def withdraw(
    session: AsyncSession,
    *,
    vault: PersonalDataVault,
    person_id: UUID,
    purpose: Purpose,
    now: datetime,
) -> None:
    """Withdraw `rollover` or `background` (see the module's docstring)."""
    if purpose is Purpose.PROCESSING:
        raise ValueError("withdrawing processing consent is erasure (erasure.erase_person)")
    c = m.consents.c
    withdrawn = await session.scalars(
        m.consents.update()
        .where(c.person_id == person_id, c.purpose == purpose.value, c.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .returning(c.id)
    )
    if not withdrawn.all():
        check_withdrawal(purpose.value, await consents_of(session, person_id))
        raise WithdrawalRefused("already_withdrawn", purpose.value)
    if purpose is Purpose.BACKGROUND:
        await _forget_background(session, vault, person_id)


async def _forget_background(
    session: AsyncSession, vault: PersonalDataVault, person_id: UUID
) -> None:
    """Her details without her background answers, and her sealed screening codes without
    those derived from them, encrypted again under her key."""
    p = m.people.c
    person = (
        await session.execute(
            sa.select(p.wrapped_key, p.details).where(p.id == person_id).with_for_update()
        )
    ).one()
    key = person.wrapped_key

    def reseal(blob: bytes) -> bytes:
        codes = vault.decrypt(key, person_id, blob)["codes"]
        return vault.encrypt(key, person_id, {"codes": without_background_codes(codes)})

    details = without_background(vault.decrypt(key, person_id, person.details))
    await session.execute(
        m.people.update()
        .where(p.id == person_id)
        .values(details=vault.encrypt(key, person_id, details))
    )
    a, t = m.applications, m.application_transitions
    for app in (
        await session.execute(
            sa.select(a.c.id, a.c.sealed_reasons).where(
                a.c.person_id == person_id, a.c.sealed_reasons.is_not(None)
            )
        )
    ).all():
        await session.execute(
            a.update().where(a.c.id == app.id).values(sealed_reasons=reseal(app.sealed_reasons))
        )
    her_applications = sa.select(a.c.id).where(a.c.person_id == person_id)
    steps: Any = await session.execute(
        sa.select(t.c.id, t.c.sealed_reason_codes).where(
            t.c.application_id.in_(her_applications), t.c.sealed_reason_codes.is_not(None)
        )
    )
    for step in steps.all():
        await session.execute(
            t.update()
            .where(t.c.id == step.id)
            .values(sealed_reason_codes=reseal(step.sealed_reason_codes))
        )
