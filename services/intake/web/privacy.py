"""Privacy screens: a coordinator erases a person from her application page and follows the
erasure across the four services, or downloads everything held about her; a participant
erases herself from her portal (after a confirmation) or downloads her data there. The work
is `services.intake.erasure`'s and `services.intake.export`'s; these are thin routes."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import cycles, erasure, export, retention, review
from services.intake import models as m
from services.intake.access.tables import What, Why
from services.intake.auth import EDITOR_ROLES, Coordinator, CurrentCoordinator, require_role
from services.intake.portal import ErasedLink, read_portal_link
from services.intake.web.access import record_access
from services.intake.web.commands import ask
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import LANGUAGES, negotiate, translator
from services.intake.web.links import link_refused, open_link, unavailable
from services.intake.web.render import page
from services.intake.web.screens import not_found
from shared.commands import ServiceUnavailable
from shared.crypto import vault_for
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]


@router.post("/coordinator/applications/{application_id}/erase", response_class=HTMLResponse)
async def erase_from_application(
    request: Request,
    application_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Erase the applicant of this application (all her applications, in every service)."""
    apps = m.applications.c
    back = f"/coordinator/applications/{application_id}"
    try:
        async with session.begin():
            person_id = await session.scalar(
                sa.select(apps.person_id).where(
                    apps.id == application_id, apps.organisation_id == coordinator.organisation_id
                )
            )
            if person_id is None:
                return await _gone_or_not_found(request, session, rt, application_id)
            if reason not in {r.value for r in erasure.COORDINATOR_REASONS}:
                return RedirectResponse(f"{back}?error=erase_reason#erase", status_code=303)
            if confirm != "yes":
                return RedirectResponse(f"{back}?error=erase_confirm#erase", status_code=303)
            erasure_id = await erasure.erase_person(
                session,
                secret_key=rt.settings.secret_key,
                organisation_id=coordinator.organisation_id,
                person_id=person_id,
                reason=erasure.Reason(reason),
                requested_by=coordinator.id,
                now=rt.clock.now(),
            )
    except erasure.ErasureRefused as refused:  # a second request racing the first
        return page(request, "error.html", {"message_key": f"erasure.{refused.reason}"}, 409)
    return RedirectResponse(f"/coordinator/erasures/{erasure_id}", status_code=303)


async def _gone_or_not_found(
    request: Request, session: AsyncSession, rt: Runtime, application_id: UUID
) -> Response:
    """410 "already erased" for an erased person's application, else 404."""
    if await erasure.application_erased(session, rt.settings.secret_key, application_id):
        return page(request, "error.html", {"message_key": "erasure.already_erased"}, 410)
    return not_found(request)


@router.get("/coordinator/erasures", response_class=HTMLResponse)
async def erasure_list(
    request: Request, coordinator: CurrentCoordinator, session: SessionDep
) -> Response:
    rows = await erasure.progress(session, coordinator.organisation_id)
    return page(request, "erasure/list.html", {"erasures": rows, **_names(request)})


@router.get("/coordinator/erasures/{erasure_id}", response_class=HTMLResponse)
async def erasure_detail(
    request: Request, erasure_id: UUID, coordinator: CurrentCoordinator, session: SessionDep
) -> Response:
    rows = await erasure.progress(session, coordinator.organisation_id, erasure_id)
    if not rows:
        return not_found(request)
    return page(request, "erasure/detail.html", {"e": rows[0], **_names(request)})


def _names(request: Request) -> dict[str, object]:
    _ = translator(negotiate(request))

    def pending_names(progress: erasure.Progress) -> str:
        return ", ".join(_(f"erasure.service.{service}") for service in progress.pending)

    return {"services": erasure.SERVICES, "pending_names": pending_names}


# --- retention -------------------------------------------------------------------------


@router.get("/coordinator/retention", response_class=HTMLResponse)
async def retention_page(
    request: Request,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
    error: str | None = None,
) -> Response:
    """Each programme's retention, and who will be erased within a month (names shown to
    the coordinators who know them already)."""
    today = rt.clock.now().date()
    programmes = m.programmes
    rows = (
        await session.execute(
            sa.select(programmes.c.id, programmes.c.name, programmes.c.settings)
            .where(programmes.c.organisation_id == coordinator.organisation_id)
            .order_by(programmes.c.name)
        )
    ).all()
    due = await retention.due_by(
        session, retention.preview_until(today), coordinator.organisation_id
    )
    names = await review.names_of(
        session,
        organisation_id=coordinator.organisation_id,
        person_ids={d.person_id for d in due},
        vault=vault_for(rt.settings.secret_key),
    )
    context = {
        "programmes": [
            (row.id, row.name, cycles.ProgrammeSettings.model_validate(row.settings))
            for row in rows
        ],
        "due": [(names.get(d.person_id, "—"), d.erase_on) for d in due],
        "preview_days": retention.PREVIEW_DAYS,
        "can_edit": coordinator.role in EDITOR_ROLES,
        "error": error,
    }
    return page(request, "erasure/retention.html", context)


@router.post("/coordinator/programmes/{programme_id}/retention", response_class=HTMLResponse)
async def set_retention(
    request: Request,
    programme_id: UUID,
    coordinator: Editor,
    session: SessionDep,
    months: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with session.begin():
            found = await retention.set_retention(
                session, coordinator.organisation_id, programme_id, months
            )
    except retention.BadRetention:
        return RedirectResponse("/coordinator/retention?error=months", status_code=303)
    if not found:
        return not_found(request)
    return RedirectResponse("/coordinator/retention", status_code=303)


# --- export ----------------------------------------------------------------------------

EXPORT_FORMATS = ("json", "html")


async def _export(
    request: Request,
    rt: Runtime,
    session: AsyncSession,
    organisation_id: UUID,
    person_id: UUID,
    fmt: str,
    back: str,
) -> Response:
    """Her export as a download: the JSON document or the readable page in her language."""
    try:
        data = await export.gather(
            session,
            vault_for(rt.settings.secret_key),
            lambda command: ask(rt, request, organisation_id, command),
            organisation_id=organisation_id,
            person_id=person_id,
            now=rt.clock.now(),
        )
    except ServiceUnavailable:
        return unavailable(request, back)
    stamp = rt.clock.now().date().isoformat()
    if fmt == "json":
        response: Response = Response(
            json.dumps(data, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="womento-data-{stamp}.json"'},
        )
    else:
        lang = data["services"]["intake"]["person"]["language"]
        lang = lang if lang in LANGUAGES else "fi"
        _ = translator(lang)

        def table_name(name: str) -> str:
            found = _(f"export.table.{name}")
            return name if found.startswith("[") else found

        context = {"data": data, "lang": lang, "_": _, "table_name": table_name}
        response = page(request, "export/summary.html", context)
        response.headers["Content-Disposition"] = (
            f'attachment; filename="womento-data-{stamp}.html"'
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/coordinator/applications/{application_id}/export.{fmt}")
async def export_from_application(
    request: Request,
    application_id: UUID,
    fmt: str,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    """Everything held about the applicant of this application, across the four services."""
    apps = m.applications.c
    async with session.begin():
        person_id = await session.scalar(
            sa.select(apps.person_id).where(
                apps.id == application_id, apps.organisation_id == coordinator.organisation_id
            )
        )
        if person_id is None:
            return await _gone_or_not_found(request, session, rt, application_id)
        if fmt not in EXPORT_FORMATS:
            return not_found(request)
        response = await _export(
            request,
            rt,
            session,
            coordinator.organisation_id,
            person_id,
            fmt,
            f"/coordinator/applications/{application_id}",
        )
        if response.status_code == 200:
            await record_access(
                request,
                session,
                coordinator,
                [person_id],
                What.EXPORT_DOWNLOADED,
                Why.DATA_REQUEST,
            )
        return response


@router.get("/portal/{token}/export.{fmt}")
async def export_for_her(
    request: Request, token: str, fmt: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    async with session.begin():
        visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
        if isinstance(visit, Response):
            return visit
        if fmt not in EXPORT_FORMATS:
            return not_found(request)
        return await _export(
            request, rt, session, visit.person.organisation_id, visit.person.id, fmt, visit.home
        )


# --- her own, from the portal -----------------------------------------------------------


@router.get("/portal/{token}/erase", response_class=HTMLResponse)
async def self_erase_form(
    request: Request, token: str, rt: RuntimeDep, session: SessionDep
) -> Response:
    visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
    if isinstance(visit, Response):
        return visit
    return _portal_page(request, "erasure/confirm.html", visit.lang, token=token, error=None)


@router.post("/portal/{token}/erase", response_class=HTMLResponse)
async def self_erase(
    request: Request,
    token: str,
    rt: RuntimeDep,
    session: SessionDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with session.begin():
            visit = await open_link(request, rt, session, token, read_portal_link, "/portal")
            if isinstance(visit, Response):
                return visit
            if confirm != "yes":
                return _portal_page(
                    request, "erasure/confirm.html", visit.lang, 422, token=token, error="confirm"
                )
            await erasure.erase_person(
                session,
                secret_key=rt.settings.secret_key,
                organisation_id=visit.person.organisation_id,
                person_id=visit.person.id,
                reason=erasure.Reason.SELF_SERVICE,
                requested_by=None,
                now=rt.clock.now(),
            )
    except erasure.ErasureRefused:  # a second submission racing the first
        return link_refused(request, ErasedLink("erased person"))
    return _portal_page(request, "erasure/erased.html", visit.lang)


def _portal_page(
    request: Request, template: str, lang: str, status: int = 200, **context: object
) -> Response:
    response = page(request, template, {"lang": lang, "_": translator(lang), **context}, status)
    response.headers["Cache-Control"] = "no-store"  # a personal link's page
    return response
