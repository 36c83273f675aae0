"""What the admin's partners screen reads besides the partners themselves: the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.auth.models import coordinators
from services.intake.partners.tables import partner_audit, partners


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: str
    partner_name: str | None
    credential_id: UUID | None
    detail: str | None
    actor_name: str | None
    """The coordinator's display name; None: by command or by the system."""


async def recent_audit(
    session: AsyncSession, organisation_id: UUID, limit: int = 50
) -> list[AuditEntry]:
    """The organisation's latest partner audit entries, newest first."""
    a = partner_audit
    rows = (
        await session.execute(
            sa.select(
                a.c.at,
                a.c.action,
                partners.c.name,
                a.c.credential_id,
                a.c.detail,
                coordinators.c.display_name,
            )
            .select_from(
                a.outerjoin(partners, partners.c.id == a.c.partner_id).outerjoin(
                    coordinators,
                    sa.and_(
                        coordinators.c.id == a.c.actor,
                        coordinators.c.organisation_id == a.c.organisation_id,
                    ),
                )
            )
            .where(a.c.organisation_id == organisation_id)
            .order_by(a.c.id.desc())
            .limit(limit)
        )
    ).all()
    return [AuditEntry(*row) for row in rows]
