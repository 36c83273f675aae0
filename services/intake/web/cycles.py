"""The coordinator's home: programmes and their cycles; creating, opening and closing them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.intake import cycles
from services.intake import models as m
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.domain import CycleDates, CycleStatus, next_cycle_status
from services.intake.service import Problem
from services.intake.web.commands import ask
from services.intake.web.csrf import verify_csrf
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.commands import CommandRejected, ScheduleSummary, ServiceUnavailable
from shared.service import RuntimeDep, SessionDep

router = APIRouter(
    prefix="/coordinator", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request, coordinator: CurrentCoordinator, session: SessionDep, rt: RuntimeDep
) -> Response:
    organisation_name = await session.scalar(
        sa.select(m.organisations.c.name).where(m.organisations.c.id == coordinator.organisation_id)
    )
    programmes = (
        await session.execute(
            sa.select(m.programmes)
            .where(m.programmes.c.organisation_id == coordinator.organisation_id)
            .order_by(m.programmes.c.name)
        )
    ).all()
    a = m.applications
    counts = sa.select(a.c.cycle_id, sa.func.count().label("n")).group_by(a.c.cycle_id).subquery()
    cycle_rows = (
        await session.execute(
            sa.select(m.cycles, sa.func.coalesce(counts.c.n, 0).label("applications"))
            .outerjoin(counts, counts.c.cycle_id == m.cycles.c.id)
            .where(m.cycles.c.organisation_id == coordinator.organisation_id)
            .order_by(m.cycles.c.applications_open.desc())
        )
    ).all()
    by_programme: dict[UUID, list[Any]] = {}
    for row in cycle_rows:
        by_programme.setdefault(row.programme_id, []).append(row)
    # Pairs, at-risk pairs and missed months per cycle, from scheduling (None: it is down).
    schedule: dict[str, Any] | None = {}
    if cycle_rows:
        summary = ScheduleSummary(cycle_ids=tuple(row.id for row in cycle_rows[:500]))
        try:
            schedule = (await ask(rt, request, coordinator.organisation_id, summary))["cycles"]
        except (ServiceUnavailable, CommandRejected):
            schedule = None
    return page(
        request,
        "coordinator/dashboard.html",
        {
            "organisation_name": organisation_name or "",
            "programmes": programmes,
            "cycles": by_programme,
            "next_status": lambda status: next_cycle_status(CycleStatus(status)),
            "can_edit": coordinator.role in EDITOR_ROLES,
            "done": request.query_params.get("done"),
            "schedule": schedule,
        },
    )


@router.get("/programmes/new", response_class=HTMLResponse)
async def new_programme(request: Request, coordinator: Editor) -> Response:
    return page(request, "coordinator/programme_form.html", _programme_context({}, {}))


@router.post("/programmes", response_class=HTMLResponse)
async def create_programme(request: Request, coordinator: Editor, session: SessionDep) -> Response:
    form = await request.form()
    values = {key: form.get(key) for key in form.keys()}
    errors: dict[str, str] = {}
    name = str(form.get("name") or "").strip()
    if len(name) < 2:
        errors["name"] = "review.form.error.name"
    try:
        settings = cycles.ProgrammeSettings(
            cycle_months=int(str(form.get("cycle_months") or 8)),
            group_meetings=int(str(form.get("group_meetings") or 4)),
            pair_meeting_cadence_days=int(str(form.get("pair_meeting_cadence_days") or 31)),
            application_months=tuple(int(str(v)) for v in form.getlist("application_months")),
            retention_months=int(str(form.get("retention_months") or 12)),
            matching_weights={
                component: float(str(form.get(f"weight_{component}") or default))
                for component, default in cycles.DEFAULT_WEIGHTS.items()
            },
        )
    except (ValueError, ValidationError):
        errors["settings"] = "review.form.error.settings"
    if errors:
        return page(
            request, "coordinator/programme_form.html", _programme_context(values, errors), 422
        )
    async with session.begin():
        await cycles.create_programme(
            session, organisation_id=coordinator.organisation_id, name=name, settings=settings
        )
    return RedirectResponse("/coordinator?done=programme", status_code=303)


@router.get("/programmes/{programme_id}/cycles/new", response_class=HTMLResponse)
async def new_cycle(
    request: Request, programme_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    found = await cycles.programme(
        session, organisation_id=coordinator.organisation_id, programme_id=programme_id
    )
    if found is None:
        return not_found(request)
    dates = cycles.suggested_dates(found.settings, rt.clock.now().date())
    values = {key: getattr(dates, key).isoformat() for key in CycleDates.__dataclass_fields__}
    return page(
        request,
        "coordinator/cycle_form.html",
        {"programme": found, "values": values, "errors": {}},
    )


@router.post("/programmes/{programme_id}/cycles", response_class=HTMLResponse)
async def create_cycle(
    request: Request, programme_id: UUID, coordinator: Editor, session: SessionDep
) -> Response:
    form = await request.form()
    values = {key: str(form.get(key) or "") for key in form.keys()}
    found = await cycles.programme(
        session, organisation_id=coordinator.organisation_id, programme_id=programme_id
    )
    if found is None:
        return not_found(request)
    errors: dict[str, str] = {}
    if len(values.get("name", "").strip()) < 2:
        errors["name"] = "review.form.error.name"
    try:
        dates = CycleDates(
            **{
                key: date.fromisoformat(values.get(key, ""))
                for key in CycleDates.__dataclass_fields__
            }
        )
    except ValueError:
        errors["dates"] = "review.form.error.date"
        dates = None
    if dates is not None and not errors:
        await session.rollback()
        try:
            async with session.begin():
                await cycles.create_cycle(
                    session,
                    organisation_id=coordinator.organisation_id,
                    programme_id=programme_id,
                    name=values["name"].strip(),
                    dates=dates,
                )
        except Problem as problem:
            errors["dates"] = f"review.form.error.{problem.kind}"
    if errors:
        context = {"programme": found, "values": values, "errors": errors}
        return page(request, "coordinator/cycle_form.html", context, status=422)
    return RedirectResponse("/coordinator?done=cycle", status_code=303)


@router.post("/cycles/{cycle_id}/advance", response_class=HTMLResponse)
async def advance_cycle(
    request: Request, cycle_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    try:
        target = CycleStatus(str(form.get("to") or ""))
        if target not in (CycleStatus.OPEN, CycleStatus.SCREENING):
            raise ValueError(target)
    except ValueError:
        return RedirectResponse("/coordinator?done=refused", status_code=303)
    try:
        async with session.begin():
            await cycles.advance_cycle(
                session,
                organisation_id=coordinator.organisation_id,
                cycle_id=cycle_id,
                to=target,
                outbox=rt.outbox,
                clock=rt.clock,
            )
    except Problem as problem:
        if problem.status == 404:
            return not_found(request)
        return RedirectResponse("/coordinator?done=refused", status_code=303)
    return RedirectResponse(f"/coordinator?done={target.value}", status_code=303)


def _programme_context(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {"values": values, "errors": errors, "weights": list(cycles.DEFAULT_WEIGHTS.items())}
