"""What the coordinator's screens share: the cycle's name in her organisation (schedule,
outcomes, report), and the one 404 page when a programme, cycle or application is not hers or
does not exist (those screens, the review queue and application, cycles, matching)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from services.intake import models as m
from services.intake.web.render import page


async def cycle_name(session: Any, organisation_id: UUID, cycle_id: UUID) -> str | None:
    """The cycle's name, or None unless the cycle is the organisation's."""
    name: str | None = await session.scalar(
        sa.select(m.cycles.c.name).where(
            m.cycles.c.id == cycle_id, m.cycles.c.organisation_id == organisation_id
        )
    )
    return name


def not_found(request: Request) -> Response:
    """The 404 page, the same whether the thing is another organisation's or does not exist."""
    return page(request, "error.html", {"message_key": "error.not_found"}, status=404)
