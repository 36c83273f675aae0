"""The coordinator's import of applications from a CSV or XLSX file, in four steps.

1. `GET/POST /coordinator/cycles/{cycle_id}/import`: upload the file, choose the role.
2. `GET /coordinator/imports/{batch_id}/map`: which column holds which field (guessed).
3. `POST /coordinator/imports/{batch_id}/dry-run`: every row checked, nothing stored but
   the mapping; bad rows listed with their reasons.
4. `POST /coordinator/imports/{batch_id}/import`: the valid rows in one transaction through
   `service.submit_application`, all or nothing.

Only admins and coordinators may import (a viewer gets 403); another organisation's cycle
or batch is a 404.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.intake import models as m
from services.intake import reference, service
from services.intake.auth import EDITOR_ROLES, Coordinator, require_role
from services.intake.imports import store
from services.intake.imports.fields import (
    FIELDS,
    MENTEE_ONLY,
    MENTOR_ONLY,
    REQUIRED,
    guess_mapping,
    mapping_from_form,
)
from services.intake.imports.parse import MAX_IMPORT_BYTES, ParseError, parse_upload
from services.intake.imports.rows import Reason, RowResult, check_rows, mark_existing, summarise
from services.intake.web.csrf import verify_csrf
from services.intake.web.i18n import LANGUAGES, negotiate
from services.intake.web.render import page
from shared.crypto import vault_for
from shared.events import Role
from shared.service import RuntimeDep, SessionDep

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/coordinator", dependencies=[Depends(verify_csrf)], include_in_schema=False
)
Editor = Annotated[Coordinator, Depends(require_role(*EDITOR_ROLES))]

MULTIPART_OVERHEAD = 4096
"""Room in the request for the form's other fields and the multipart framing."""
SAMPLE_VALUES = 3


def upload_limit(rt: RuntimeDep) -> int:
    """The largest file the import takes: 5 MB, or less if the app refuses larger bodies."""
    return min(MAX_IMPORT_BYTES, rt.settings.max_request_bytes - MULTIPART_OVERHEAD)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}".rstrip("0").rstrip(".")


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message_key": "error.not_found"}, status=404)


async def _cycle(session: SessionDep, organisation_id: UUID, cycle_id: UUID) -> Any:
    return (
        await session.execute(
            sa.select(m.cycles).where(
                m.cycles.c.id == cycle_id, m.cycles.c.organisation_id == organisation_id
            )
        )
    ).one_or_none()


def _taking_applications(cycle: Any, rt: RuntimeDep) -> bool:
    today = rt.clock.now().date()
    return bool(
        cycle.status == "open" and cycle.applications_open <= today <= cycle.applications_close
    )


# --- 1. upload -------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    rt: RuntimeDep,
    cycle: Any,
    *,
    error: tuple[str, dict[str, Any]] | None = None,
    role: str = "mentee",
    status: int = 200,
) -> Response:
    limit = upload_limit(rt)
    return page(
        request,
        "imports/upload.html",
        {
            "cycle": cycle,
            "limit_bytes": limit,
            "limit_mb": megabytes(limit),
            "roles": [r.value for r in Role],
            "role": role,
            "error": error,
            "taking": _taking_applications(cycle, rt),
        },
        status=status,
    )


@router.get("/cycles/{cycle_id}/import", response_class=HTMLResponse)
async def upload_form(
    request: Request, cycle_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    cycle = await _cycle(session, coordinator.organisation_id, cycle_id)
    if cycle is None:
        return _not_found(request)
    return _upload_page(request, rt, cycle)


@router.post("/cycles/{cycle_id}/import", response_class=HTMLResponse)
async def upload(
    request: Request, cycle_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    cycle = await _cycle(session, coordinator.organisation_id, cycle_id)
    if cycle is None:
        return _not_found(request)
    chosen = str(form.get("role") or "")
    limit = upload_limit(rt)

    def refuse(kind: str, status: int = 422, **values: Any) -> Response:
        return _upload_page(
            request, rt, cycle, error=(kind, values), role=chosen or "mentee", status=status
        )

    if chosen not in {r.value for r in Role}:
        return refuse("role")
    if not _taking_applications(cycle, rt):
        return refuse("cycle_closed")
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return refuse("no_file")
    content = await file.read(limit + 1)
    try:
        # parsing a large sheet takes a while: not on the event loop
        parsed = await asyncio.to_thread(parse_upload, file.filename, content, max_bytes=limit)
    except ParseError as error:
        values = error.values | ({"limit": megabytes(limit)} if error.kind == "too_large" else {})
        return refuse(error.kind, 413 if error.kind == "too_large" else 422, **values)
    await session.rollback()  # end the read-only transaction the checks above began
    now = rt.clock.now()
    async with session.begin():
        await store.purge_expired(session, now)
        batch_id = await store.create_batch(
            session,
            vault=vault_for(rt.settings.secret_key),
            organisation_id=coordinator.organisation_id,
            cycle_id=cycle_id,
            coordinator_id=coordinator.id,
            role=Role(chosen),
            filename=file.filename,
            parsed=parsed,
            now=now,
        )
    log.info(
        "import uploaded",
        extra={"batch_id": str(batch_id), "rows": len(parsed.rows), "cycle_id": str(cycle_id)},
    )
    return RedirectResponse(f"/coordinator/imports/{batch_id}/map", status_code=303)


# --- shared by the batch pages ----------------------------------------------------------------


async def _open_batch(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    coordinator: Coordinator,
    batch_id: UUID,
    *,
    for_update: bool = False,
) -> tuple[store.Batch | None, Any, Response | None]:
    """The batch and its cycle, or the page to answer with instead."""
    batch = await store.load_batch(
        session,
        organisation_id=coordinator.organisation_id,
        batch_id=batch_id,
        for_update=for_update,
    )
    if batch is None:
        return None, None, _not_found(request)
    cycle = await _cycle(session, coordinator.organisation_id, batch.cycle_id)
    if cycle is None:
        return None, None, _not_found(request)
    if batch.status == store.IMPORTED:
        context = {"batch": batch, "cycle": cycle, "reason": "imported"}
        return None, None, page(request, "imports/closed.html", context, status=409)
    if batch.expired(rt.clock.now()):
        context = {"batch": batch, "cycle": cycle, "reason": "expired"}
        return None, None, page(request, "imports/closed.html", context, status=410)
    return batch, cycle, None


def _field_choices(role: Role) -> list[str]:
    skip = MENTEE_ONLY if role is Role.MENTOR else MENTOR_ONLY
    return [f for f in FIELDS if f not in skip]


def _map_page(
    request: Request,
    rt: RuntimeDep,
    batch: store.Batch,
    cycle: Any,
    mapping: dict[str, int | None],
    default_language: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rows = batch.rows(vault_for(rt.settings.secret_key))
    samples: list[list[str]] = []
    for index in range(len(batch.columns)):
        seen = [values[index] for _, values in rows if values[index]][:SAMPLE_VALUES]
        samples.append([v if len(v) <= 40 else v[:39] + "…" for v in seen])
    return page(
        request,
        "imports/map.html",
        {
            "batch": batch,
            "cycle": cycle,
            "fields": _field_choices(batch.role),
            "required": REQUIRED,
            "mapping": mapping,
            "columns": list(enumerate(batch.columns)),
            "samples": samples,
            "default_language": default_language,
            "languages": LANGUAGES,
            "error": error,
        },
        status=status,
    )


def _saved(batch: store.Batch) -> tuple[dict[str, int | None], str]:
    saved = batch.mapping or {}
    fields = saved.get("fields")
    mapping = (
        {f: fields.get(f) for f in FIELDS} if fields is not None else guess_mapping(batch.columns)
    )
    return mapping, str(saved.get("default_language") or "fi")


# --- 2. mapping ------------------------------------------------------------------------------


@router.get("/imports/{batch_id}/map", response_class=HTMLResponse)
async def map_columns(
    request: Request, batch_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    batch, cycle, refused = await _open_batch(request, session, rt, coordinator, batch_id)
    if refused is not None or batch is None:
        return refused or _not_found(request)
    mapping, default_language = _saved(batch)
    return _map_page(request, rt, batch, cycle, mapping, default_language)


# --- 3. dry run ------------------------------------------------------------------------------


async def existing_emails(
    session: SessionDep, rt: RuntimeDep, *, cycle_id: UUID, role: Role, results: list[RowResult]
) -> set[str]:
    """The rows' e-mails (as `email_key`) that already have an application in cycle and role."""
    by_digest = {
        service.keyed_digest(rt.settings.secret_key, "email", r.email_key): r.email_key
        for r in results
        if r.email_key
    }
    if not by_digest:
        return set()
    found = await session.scalars(
        sa.select(m.people.c.email_digest)
        .join(m.applications, m.applications.c.person_id == m.people.c.id)
        .where(
            m.applications.c.cycle_id == cycle_id,
            m.applications.c.role == role.value,
            m.people.c.email_digest.in_(list(by_digest)),
        )
    )
    return {by_digest[bytes(digest)] for digest in found}


async def _check_rows(
    rt: RuntimeDep, batch: store.Batch, mapping: dict[str, int | None], default: str, lang: str
) -> list[RowResult]:
    """The pure checks of every row, in a worker thread: thousands of occupation searches
    take seconds, which must not stall the other requests."""
    vault = vault_for(rt.settings.secret_key)
    return await asyncio.to_thread(
        lambda: check_rows(
            batch.rows(vault),
            mapping,
            cycle_id=batch.cycle_id,
            role=batch.role,
            lang=lang,
            default_language=default,
        )
    )


async def _check(
    session: SessionDep,
    rt: RuntimeDep,
    batch: store.Batch,
    mapping: dict[str, int | None],
    default_language: str,
    lang: str,
) -> list[RowResult]:
    results = await _check_rows(rt, batch, mapping, default_language, lang)
    existing = await existing_emails(
        session, rt, cycle_id=batch.cycle_id, role=batch.role, results=results
    )
    return mark_existing(results, existing)


async def _dry_run(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    batch: store.Batch,
    cycle: Any,
    mapping: dict[str, int | None],
    default_language: str,
    *,
    failure: tuple[int, Reason] | None = None,
) -> Response:
    """Check every row, remember the mapping and which rows passed, show the result."""
    lang = negotiate(request)
    results = await _check(session, rt, batch, mapping, default_language, lang)
    dry_run_id = uuid4().hex
    await store.save_mapping(
        session,
        batch.id,
        {
            "fields": mapping,
            "default_language": default_language,
            "dry_run": dry_run_id,
            "valid_rows": [r.row for r in results if r.valid],
            "lang": lang,  # occupation searches rank by language: the import searches alike
        },
    )
    fields = _field_choices(batch.role)
    context = {
        "batch": batch,
        "cycle": cycle,
        "results": results,
        "bad": [r for r in results if not r.valid],
        "summary": summarise(results),
        "dry_run_id": dry_run_id,
        "unmapped_required": [f for f in fields if f in REQUIRED and mapping.get(f) is None],
        "taking": _taking_applications(cycle, rt),
        "failure": failure,
        "isco_label": lambda code: reference.isco_label(code, lang),
    }
    return page(request, "imports/dry_run.html", context, status=409 if failure else 200)


@router.post("/imports/{batch_id}/dry-run", response_class=HTMLResponse)
async def dry_run(
    request: Request, batch_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    async with session.begin():
        batch, cycle, refused = await _open_batch(
            request, session, rt, coordinator, batch_id, for_update=True
        )
        if refused is not None or batch is None:
            return refused or _not_found(request)
        posted = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        mapping, problems = mapping_from_form(posted, batch.columns)
        default_language = posted.get("default_language", "fi")
        if problems or default_language not in LANGUAGES:
            return _map_page(
                request,
                rt,
                batch,
                cycle,
                mapping,
                default_language if default_language in LANGUAGES else "fi",
                error="bad_mapping",
                status=422,
            )
        return await _dry_run(request, session, rt, batch, cycle, mapping, default_language)


# --- 4. import -------------------------------------------------------------------------------


class ImportFailed(Exception):
    def __init__(self, row: int, reason: Reason) -> None:
        super().__init__(f"row {row}: {reason.code}")
        self.row, self.reason = row, reason


PROBLEM_REASONS = {"duplicate": "duplicate_in_cycle", "cycle_closed": "cycle_closed"}


@router.post("/imports/{batch_id}/import", response_class=HTMLResponse)
async def run_import(
    request: Request, batch_id: UUID, coordinator: Editor, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await request.form()
    lang = negotiate(request)
    vault = vault_for(rt.settings.secret_key)
    try:
        async with session.begin():
            batch, cycle, refused = await _open_batch(
                request, session, rt, coordinator, batch_id, for_update=True
            )
            if refused is not None or batch is None:
                return refused or _not_found(request)
            saved = batch.mapping or {}
            if not saved.get("dry_run") or form.get("dry_run") != saved["dry_run"]:
                context = {"batch": batch, "cycle": cycle, "reason": "stale"}
                return page(request, "imports/closed.html", context, status=409)
            mapping, default_language = _saved(batch)
            chosen = set(saved.get("valid_rows") or ())
            search_lang = str(saved.get("lang") or lang)
            results = await _check_rows(rt, batch, mapping, default_language, search_lang)
            imported = 0
            for result in results:
                if result.row not in chosen:
                    continue  # a bad row of the dry run: never imported
                if result.application is None or not result.valid:
                    first = result.reasons[0] if result.reasons else Reason("store_failed")
                    raise ImportFailed(result.row, first)
                try:
                    await service.submit_application(
                        session,
                        request=result.application,
                        outbox=rt.outbox,
                        vault=vault,
                        secret_key=rt.settings.secret_key,
                        clock=rt.clock,
                        correlation_id=request.state.correlation_id,
                    )
                except service.Problem as problem:
                    code = PROBLEM_REASONS.get(problem.kind, "store_failed")
                    field = "email" if problem.kind == "duplicate" else None
                    raise ImportFailed(result.row, Reason(code, field)) from problem
                except sa.exc.SQLAlchemyError as error:
                    log.exception("import row failed", extra={"batch_id": str(batch_id)})
                    raise ImportFailed(result.row, Reason("store_failed")) from error
                imported += 1
            await store.mark_imported(session, batch.id, imported, rt.clock.now())
    except ImportFailed as failed:
        log.info(
            "import rolled back",
            extra={"batch_id": str(batch_id), "row": failed.row, "reason": failed.reason.code},
        )
        async with session.begin():
            batch, cycle, refused = await _open_batch(request, session, rt, coordinator, batch_id)
            if refused is not None or batch is None:
                return refused or _not_found(request)
            mapping, default_language = _saved(batch)
            return await _dry_run(
                request,
                session,
                rt,
                batch,
                cycle,
                mapping,
                default_language,
                failure=(failed.row, failed.reason),
            )
    log.info("import done", extra={"batch_id": str(batch_id), "imported": imported})
    return RedirectResponse(
        f"/coordinator/cycles/{batch.cycle_id}?done=import&imported={imported}", status_code=303
    )
