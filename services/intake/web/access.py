"""The access audit on the web: `record_access`, which every route that shows or downloads
a person's data calls in the transaction of its read, and the admin's screens of the log
(per person, from her application page; per coordinator, from the list of the
organisation's accounts).

Admins only (`require_role("admin")`, 403 for the others). Another organisation's
application or coordinator is a 404. The screens show ids, codes and coordinators' names,
never a participant's name, so looking at the log is not itself an access to her data.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import models as m
from services.intake.access import queries, store
from services.intake.access.tables import What, Why
from services.intake.auth import Coordinator, require_role
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.service import SessionDep, get_runtime

router = APIRouter(prefix="/coordinator/access", include_in_schema=False)
Admin = Annotated[Coordinator, Depends(require_role("admin"))]
Before = Annotated[int | None, Query(ge=1)]
PERSONAL_PARAMS = frozenset({"application_id", "person_id"})


async def record_access(
    request: Request,
    session: AsyncSession,
    coordinator: Coordinator,
    person_ids: Collection[UUID] | None,
    what: What,
    why: Why,
    *,
    path: str | None = None,
) -> None:
    """Record that `coordinator` saw (or downloaded) these people's data, now, through this
    request; in the caller's transaction, which the caller commits before answering.
    `path`: what to record as the page, when `page_of(request)` does not say enough (never
    a query a coordinator typed: a search is for a name)."""
    await store.record(
        session,
        coordinator=coordinator,
        person_ids=person_ids,
        what=what,
        why=why,
        path=path or page_of(request),
        client_address=request.client.host if request.client else None,
        at=get_runtime(request).clock.now(),
    )


def page_of(request: Request) -> str:
    """The request's route with its ids filled in, but for those that point to a person
    (`PERSONAL_PARAMS`): `/coordinator/applications/{application_id}/export.json`. Whose
    data it was is `person_id`'s to say, which erasure replaces; an application id left in
    the page would outlive her."""
    template = getattr(request.scope.get("route"), "path_format", None)
    if template is None:
        return request.url.path
    values = {
        name: f"{{{name}}}" if name in PERSONAL_PARAMS else str(value)
        for name, value in request.path_params.items()
    }
    return str(template.format(**values))


@router.get("", response_class=HTMLResponse)
async def coordinators_page(request: Request, admin: Admin, session: SessionDep) -> Response:
    """The organisation's coordinator accounts, each with a link to her access log."""
    found = await queries.colleagues(session, admin.organisation_id)
    return page(request, "access/coordinators.html", {"colleagues": found})


@router.get("/coordinators/{coordinator_id}", response_class=HTMLResponse)
async def coordinator_page(
    request: Request,
    coordinator_id: UUID,
    admin: Admin,
    session: SessionDep,
    before: Before = None,
) -> Response:
    """What one coordinator viewed or downloaded, newest first."""
    colleague = await queries.colleague(session, admin.organisation_id, coordinator_id)
    if colleague is None:
        return not_found(request)
    rows = await queries.coordinator_accesses(
        session, admin.organisation_id, coordinator_id, before=before
    )
    return page(
        request,
        "access/coordinator.html",
        {"colleague": colleague, "rows": rows, **_more(rows, before)},
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
async def person_page(
    request: Request,
    application_id: UUID,
    admin: Admin,
    session: SessionDep,
    before: Before = None,
) -> Response:
    """Who viewed or downloaded the data of this application's applicant (through any of
    her applications), newest first."""
    apps = m.applications.c
    person_id = await session.scalar(
        sa.select(apps.person_id).where(
            apps.id == application_id, apps.organisation_id == admin.organisation_id
        )
    )
    if person_id is None:
        return not_found(request)
    return await _person(request, admin, session, person_id, application_id, before)


@router.get("/people/{person_id}", response_class=HTMLResponse)
async def person_by_id_page(
    request: Request,
    person_id: UUID,
    admin: Admin,
    session: SessionDep,
    before: Before = None,
) -> Response:
    """The same, by her id as a coordinator's log links it (an erased person's: the
    erasure's id, which the log holds in place of hers)."""
    return await _person(request, admin, session, person_id, None, before)


async def _person(
    request: Request,
    admin: Coordinator,
    session: AsyncSession,
    person_id: UUID,
    application_id: UUID | None,
    before: int | None,
) -> Response:
    rows = await queries.person_accesses(session, admin.organisation_id, person_id, before=before)
    if not rows and application_id is None and before is None:
        return not_found(request)  # nobody of hers in the log: not even confirmed to exist
    return page(
        request,
        "access/person.html",
        {"application_id": application_id, "rows": rows, **_more(rows, before)},
    )


def _more(
    rows: Sequence[queries.PersonAccess | queries.CoordinatorAccess], before: int | None
) -> dict[str, object]:
    """The "show more" link's key (None: this is the last page) and whether this page is
    a later one (then "back to the newest" is offered)."""
    full = len(rows) == queries.PAGE
    return {"more_before": rows[-1].id if full else None, "later_page": before is not None}
