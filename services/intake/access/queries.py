"""Reading the access log: the admin's screens (per person, per coordinator) and a person's
export. Only the organisation's own rows; newest first, a page at a time (`before`: the
smallest row id of the page already shown)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access.tables import access_log
from services.intake.auth.models import coordinators
from shared.personal_data import jsonable

PAGE = 50


@dataclass(frozen=True)
class PersonAccess:
    """One access to her data."""

    id: int
    at: datetime
    coordinator_id: UUID
    coordinator_name: str
    coordinator_role: str
    what: str
    why: str
    path: str
    client_address: str | None


@dataclass(frozen=True)
class CoordinatorAccess:
    """One view or download by a coordinator: what of how many people."""

    id: int
    """The largest row id of the access (the key for "show more")."""
    at: datetime
    what: str
    why: str
    path: str
    people: int
    """How many people's data it showed (0: a download naming nobody)."""
    client_address: str | None
    person_id: UUID | None
    """Whose, when it was one person's (her id, or her erasure's once she is erased)."""


@dataclass(frozen=True)
class Colleague:
    id: UUID
    display_name: str
    email: str
    role: str
    disabled: bool
    accesses: int
    last_at: datetime | None


async def person_accesses(
    session: AsyncSession,
    organisation_id: UUID,
    person_id: UUID,
    *,
    before: int | None = None,
    limit: int | None = PAGE,
) -> list[PersonAccess]:
    """Who saw or downloaded her data, newest first."""
    a, c = access_log, coordinators
    query = (
        sa.select(
            a.c.id,
            a.c.at,
            a.c.coordinator_id,
            c.c.display_name,
            a.c.coordinator_role,
            a.c.what,
            a.c.why,
            a.c.path,
            a.c.client_address,
        )
        .join(c, c.c.id == a.c.coordinator_id)
        .where(a.c.organisation_id == organisation_id, a.c.person_id == person_id)
        .order_by(a.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(a.c.id < before)
    return [PersonAccess(*row) for row in (await session.execute(query)).all()]


async def coordinator_accesses(
    session: AsyncSession,
    organisation_id: UUID,
    coordinator_id: UUID,
    *,
    before: int | None = None,
    limit: int = PAGE,
) -> list[CoordinatorAccess]:
    """What she viewed or downloaded, one line per access, newest first."""
    a = access_log
    last = sa.func.max(a.c.id)
    query = (
        sa.select(
            last,
            sa.func.max(a.c.at),
            a.c.what,
            a.c.why,
            a.c.path,
            sa.func.count(a.c.person_id),
            sa.func.max(a.c.client_address),
            sa.case(
                (sa.func.count(a.c.person_id) == 1, sa.func.array_agg(a.c.person_id)[1]),
                else_=None,
            ),
        )
        .where(a.c.organisation_id == organisation_id, a.c.coordinator_id == coordinator_id)
        .group_by(a.c.access_id, a.c.what, a.c.why, a.c.path)
        .order_by(last.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.having(last < before)
    return [CoordinatorAccess(*row) for row in (await session.execute(query)).all()]


async def colleagues(
    session: AsyncSession, organisation_id: UUID, coordinator_id: UUID | None = None
) -> list[Colleague]:
    """The organisation's coordinator accounts (or the one asked for, if it is the
    organisation's) with how many rows of the log are theirs and the latest one's time."""
    a, c = access_log, coordinators
    counts = (
        sa.select(
            a.c.coordinator_id,
            sa.func.count().label("n"),
            sa.func.max(a.c.at).label("last_at"),
        )
        .where(a.c.organisation_id == organisation_id)
        .group_by(a.c.coordinator_id)
        .subquery()
    )
    query = (
        sa.select(
            c.c.id,
            c.c.display_name,
            c.c.email,
            c.c.role,
            c.c.disabled_at.is_not(None),
            sa.func.coalesce(counts.c.n, 0),
            counts.c.last_at,
        )
        .outerjoin(counts, counts.c.coordinator_id == c.c.id)
        .where(c.c.organisation_id == organisation_id)
        .order_by(c.c.display_name, c.c.email)
    )
    if coordinator_id is not None:
        query = query.where(c.c.id == coordinator_id)
    rows = (await session.execute(query)).all()
    return [Colleague(*row) for row in rows]


async def colleague(
    session: AsyncSession, organisation_id: UUID, coordinator_id: UUID
) -> Colleague | None:
    """One coordinator account of the organisation (None: not the organisation's)."""
    found = await colleagues(session, organisation_id, coordinator_id)
    return found[0] if found else None


async def accesses_of_person(
    session: AsyncSession, organisation_id: UUID, person_id: UUID
) -> list[dict[str, Any]]:
    """Every access to her data, oldest first, as JSON: for her export (who viewed it)."""
    rows = await person_accesses(session, organisation_id, person_id, limit=None)
    return [
        {
            "at": jsonable(row.at),
            "coordinator_id": str(row.coordinator_id),
            "coordinator_name": row.coordinator_name,
            "coordinator_role": row.coordinator_role,
            "what": row.what,
            "why": row.why,
        }
        for row in reversed(rows)
    ]
