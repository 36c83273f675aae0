"""The coordinator's screens: a cycle's review queue, one application, decisions, notes.

Every page takes the logged-in coordinator and looks only inside their organisation:
another organisation's cycle or application is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.intake import erasure, reference, review
from services.intake import models as m
from services.intake.access.tables import What, Why
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.domain import TRANSITIONS, Status, TransitionError
from services.intake.mail import enqueue_mail
from services.intake.web.access import record_access
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import negotiate
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.crypto import vault_for
from shared.events import Cefr, Role
from shared.service import RuntimeDep, SessionDep

router = APIRouter(
    prefix="/coordinator", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]


async def _cycle(session: SessionDep, coordinator: Coordinator, cycle_id: UUID) -> Any:
    return (
        await session.execute(
            sa.select(m.cycles).where(
                m.cycles.c.id == cycle_id, m.cycles.c.organisation_id == coordinator.organisation_id
            )
        )
    ).one_or_none()


def _filters(request: Request) -> review.QueueFilters:
    q = request.query_params

    def pick(name: str, allowed: Any) -> Any:
        value = q.get(name) or None
        try:
            return allowed(value) if value is not None else None
        except ValueError:
            return None

    return review.QueueFilters(
        role=pick("role", Role),
        status=pick("status", Status),
        field=q.get("field") if (q.get("field") or "").isdigit() else None,
        finnish_at_least=pick("finnish", Cefr),
        region=q.get("region") or None,
        search=q.get("q") or None,
        sort=q.get("sort") if q.get("sort") in review.SORTS else "submitted",
        descending=q.get("desc") == "1",
    )


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
async def cycle_queue(
    request: Request,
    cycle_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    cycle = await _cycle(session, coordinator, cycle_id)
    if cycle is None:
        return not_found(request)
    filters = _filters(request)
    rows = await review.queue(
        session,
        organisation_id=coordinator.organisation_id,
        cycle_id=cycle_id,
        filters=filters,
        vault=vault_for(rt.settings.secret_key),
    )
    people = {row.person_id for row in rows}
    await record_access(request, session, coordinator, people, What.QUEUE_VIEWED, Why.SCREENING)
    await session.commit()
    lang = negotiate(request)
    return page(
        request,
        "coordinator/queue.html",
        {
            "cycle": cycle,
            "rows": rows,
            "filters": filters,
            "query": dict(request.query_params),
            "statuses": [s.value for s in Status],
            "cefr_levels": [c.value for c in Cefr],
            "regions": reference.regions(lang),
            "region_names": dict(reference.regions(lang)),
            "isco_label": lambda code: reference.isco_label(code, lang),
            "can_edit": coordinator.role in EDITOR_ROLES,
            "major_groups": [
                (code, g.label(lang))
                for code, g in sorted(reference.isco_groups().items())
                if g.level == 1
            ],
        },
    )


@router.post("/cycles/{cycle_id}/bulk-accept", response_class=HTMLResponse)
async def bulk_accept(
    request: Request,
    cycle_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    form = await request.form()
    ids = []
    for value in form.getlist("application_id"):
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            continue
    refused = 0
    accepted = 0
    async with session.begin():
        if await _cycle(session, coordinator, cycle_id) is None:
            return not_found(request)
        for application_id in ids:
            try:
                async with session.begin_nested():
                    await _decide(session, rt, coordinator, application_id, Status.ACCEPTED, None)
                accepted += 1
            except (TransitionError, review.NotFound):
                refused += 1
    return RedirectResponse(
        f"/coordinator/cycles/{cycle_id}?done=bulk&accepted={accepted}&refused={refused}",
        status_code=303,
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
async def application_detail(
    request: Request,
    application_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
    error: str | None = None,
) -> Response:
    try:
        found = await review.detail(
            session,
            organisation_id=coordinator.organisation_id,
            application_id=application_id,
            vault=vault_for(rt.settings.secret_key),
        )
    except review.NotFound:
        if await erasure.application_erased(session, rt.settings.secret_key, application_id):
            return page(request, "error.html", {"message_key": "erasure.already_erased"}, 410)
        return not_found(request)
    her = [found.row.person_id]
    await record_access(request, session, coordinator, her, What.APPLICATION_VIEWED, Why.SCREENING)
    if found.notes:
        await record_access(request, session, coordinator, her, What.NOTES_VIEWED, Why.SCREENING)
    await session.commit()
    lang = negotiate(request)
    return page(
        request,
        "coordinator/application.html",
        {
            "a": found,
            "next_statuses": [s.value for s in review_targets(found.row.status)],
            "can_edit": coordinator.role in EDITOR_ROLES,
            "isco_label": reference.isco_label(found.profile.isco_code, lang),
            "region_name": dict(reference.regions(lang)).get(found.profile.region or "", ""),
            "country_name": lambda code: dict(reference.countries(lang)).get(code, code),
            "error": error,
        },
    )


def review_targets(status: Status) -> list[Status]:
    order = list(Status)
    return sorted(TRANSITIONS[status], key=order.index)


@router.post("/applications/{application_id}/status", response_class=HTMLResponse)
async def change_status(
    request: Request,
    application_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
    to: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        target = Status(to)
    except ValueError:
        target = None
    try:
        if target is None:
            raise TransitionError(Status.SUBMITTED, Status.SUBMITTED, "not_allowed")
        async with session.begin():
            await _decide(session, rt, coordinator, application_id, target, note or None)
    except review.NotFound:
        return not_found(request)
    except TransitionError as refused:
        return RedirectResponse(
            f"/coordinator/applications/{application_id}?error={refused.reason}", status_code=303
        )
    return RedirectResponse(f"/coordinator/applications/{application_id}", status_code=303)


@router.post("/applications/{application_id}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request,
    application_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with session.begin():
            await review.add_note(
                session,
                organisation_id=coordinator.organisation_id,
                application_id=application_id,
                author_id=coordinator.id,
                text=text,
                vault=vault_for(rt.settings.secret_key),
                clock=rt.clock,
            )
    except review.NotFound:
        return not_found(request)
    except ValueError:
        return RedirectResponse(
            f"/coordinator/applications/{application_id}?error=note_empty", status_code=303
        )
    return RedirectResponse(f"/coordinator/applications/{application_id}#notes", status_code=303)


async def _decide(
    session: SessionDep,
    rt: RuntimeDep,
    coordinator: Coordinator,
    application_id: UUID,
    target: Status,
    note: str | None,
) -> None:
    """One decision with its event and, where the applicant is told, the e-mail."""
    decision = await review.decide(
        session,
        organisation_id=coordinator.organisation_id,
        application_id=application_id,
        to_status=target,
        actor_id=coordinator.id,
        note=note,
        vault=vault_for(rt.settings.secret_key),
        outbox=rt.outbox,
        clock=rt.clock,
    )
    if decision.mail_template:
        cycle_name = await session.scalar(
            sa.select(m.cycles.c.name)
            .join(m.applications, m.applications.c.cycle_id == m.cycles.c.id)
            .where(m.applications.c.id == application_id)
        )
        rolls_over = target is Status.WAITLISTED and await review.has_consent(
            session, decision.person_id, "rollover"
        )
        await enqueue_mail(
            session,
            organisation_id=coordinator.organisation_id,
            person_id=decision.person_id,
            template=decision.mail_template,
            context={"cycle_name": cycle_name, "rolls_over": rolls_over},
            clock=rt.clock,
        )
