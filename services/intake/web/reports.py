"""The coordinator's reports: one cycle's figures (`/coordinator/cycles/<id>/report`) and
all years (`/coordinator/reports`), with feedback's SVG charts inline and the numbers in
tables beside them, and the files for the funder (XLSX, PDF) and for research (CSV).

Feedback computes everything (`GetReport`, `ExportReport`); these pages hold no figures of
their own and no names. When feedback is down the pages say so (503).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.access.tables import What, Why
from services.intake.auth import Coordinator, CurrentCoordinator
from services.intake.web.access import record_access
from services.intake.web.commands import ask
from services.intake.web.i18n import catalogue, negotiate, text
from services.intake.web.render import page
from services.intake.web.screens import cycle_name, not_found
from shared.commands import (
    CommandRejected,
    ExportReport,
    GetReport,
    ServiceUnavailable,
)
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/coordinator", include_in_schema=False)
FORMATS = ("xlsx", "pdf", "research")
OUTCOMES = (
    "employed_own_field",
    "employed_other_field",
    "internship_or_temporary",
    "further_education",
    "confidence_no_change",
    "other",
)
KINDS = ("baseline", "midway", "end", "follow_up")


def report_language(request: Request) -> Literal["fi", "en"]:
    """Reports are in Finnish or English; Swedish readers get English (as intake's texts)."""
    return "fi" if negotiate(request) == "fi" else "en"


def _unavailable(request: Request, back: str) -> Response:
    return page(request, "reports/unavailable.html", {"back": back}, status=503)


def percent(value: float | None, lang: str) -> str:
    if value is None:
        return "-"
    number = f"{value * 100:.0f}"
    return f"{number} %" if lang == "fi" else f"{number}%"


def decimal(value: float | None, lang: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    written = f"{value:+.1f}" if signed else f"{value:.1f}"
    return written.replace(".", ",") if lang == "fi" else written


def _context(request: Request, reply: dict[str, Any]) -> dict[str, Any]:
    lang = report_language(request)

    def question(key: str) -> str:
        """A question's name; one a coordinator added shows its key in words."""
        found = catalogue(lang).get(f"reports.question.{key}")
        return found if found is not None else key.replace("_", " ")

    return {
        "report": reply["report"],
        "charts": reply["charts"],
        "outcome_keys": OUTCOMES,
        "kinds": KINDS,
        "pct": lambda value: percent(value, lang),
        "dec": lambda value, signed=False: decimal(value, lang, signed),
        "question": question,
    }


@router.get("/cycles/{cycle_id}/report", response_class=HTMLResponse)
async def cycle_report(
    request: Request,
    cycle_id: UUID,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    name = await cycle_name(session, coordinator.organisation_id, cycle_id)
    if name is None:
        return not_found(request)
    context: dict[str, Any] = {"cycle_id": cycle_id, "cycle_name": name, "report": None}
    try:
        reply = await ask(
            rt,
            request,
            coordinator.organisation_id,
            GetReport(cycle_ids=[cycle_id], language=report_language(request)),
        )
        context |= _context(request, reply)
    except ServiceUnavailable:
        return _unavailable(request, f"/coordinator/cycles/{cycle_id}/report")
    except CommandRejected as refused:
        if refused.code != "unknown_cycle":  # not opened yet: feedback has not seen it
            raise
    return page(request, "reports/report.html", context)


@router.get("/reports", response_class=HTMLResponse)
async def all_reports(
    request: Request, coordinator: CurrentCoordinator, rt: RuntimeDep
) -> Response:
    try:
        reply = await ask(
            rt,
            request,
            coordinator.organisation_id,
            GetReport(all_years=True, language=report_language(request)),
        )
    except ServiceUnavailable:
        return _unavailable(request, "/coordinator/reports")
    return page(request, "reports/years.html", {"cycle_id": None, **_context(request, reply)})


async def _download(
    request: Request,
    rt: RuntimeDep,
    session: AsyncSession,
    coordinator: Coordinator,
    command: ExportReport,
    back: str,
) -> Response:
    """The file from feedback. The research CSV (a row per mentee, pseudonymised) is
    recorded in the access log; the funder's XLSX and PDF hold only figures."""
    try:
        reply = await ask(rt, request, coordinator.organisation_id, command)
    except ServiceUnavailable:
        return _unavailable(request, back)
    except CommandRejected as refused:
        if refused.code == "unknown_cycle":
            return not_found(request)
        return page(
            request, "reports/refused.html", {"code": refused.code, "back": back}, status=422
        )
    if command.format == "research":
        scope = request.url.path + (f"?year={command.year}" if command.year else "")
        await record_access(
            request,
            session,
            coordinator,
            None,
            What.RESEARCH_CSV_DOWNLOADED,
            Why.RESEARCH,
            path=scope,
        )
        await session.commit()
    return Response(
        base64.b64decode(reply["content_base64"]),
        media_type=reply["content_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{reply["filename"]}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/cycles/{cycle_id}/report/export/{fmt}")
async def export_cycle_report(
    request: Request,
    cycle_id: UUID,
    fmt: str,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
) -> Response:
    name = await cycle_name(session, coordinator.organisation_id, cycle_id)
    if name is None or fmt not in FORMATS:
        return not_found(request)
    command = ExportReport(
        cycle_ids=[cycle_id],
        format=fmt,
        language=report_language(request),
        title=name[:200],
    )
    back = f"/coordinator/cycles/{cycle_id}/report"
    return await _download(request, rt, session, coordinator, command, back)


@router.get("/reports/export/{fmt}")
async def export_all_reports(
    request: Request,
    fmt: str,
    coordinator: CurrentCoordinator,
    session: SessionDep,
    rt: RuntimeDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """All years' files, or one year's (`?year=`): the cycles starting that year."""
    if fmt not in FORMATS:
        return not_found(request)
    lang = report_language(request)
    command = ExportReport(
        all_years=year is None,
        year=year,
        format=fmt,
        language=lang,
        title=str(year) if year else text("reports.years.export_title", lang),
    )
    return await _download(request, rt, session, coordinator, command, "/coordinator/reports")
